//! A small compressed-sparse-row matrix: all ALS needs is row access to
//! (column, value) pairs and a transpose, so this is a few vectors rather
//! than a general sparse-algebra dependency.

/// A sparse `nrows × ncols` matrix of `f32` in compressed sparse row form.
/// Within a row the column indices are strictly increasing.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    indptr: Vec<usize>,
    indices: Vec<u32>,
    data: Vec<f32>,
    ncols: usize,
}

impl Csr {
    /// Builds the matrix from `(row, column, value)` triplets, summing the
    /// values of repeated coordinates. Rows and columns must be below
    /// `nrows` and `ncols`.
    pub fn from_triplets(nrows: usize, ncols: usize, mut triplets: Vec<(u32, u32, f32)>) -> Self {
        triplets.sort_unstable_by_key(|&(r, c, _)| (r, c));
        let mut indptr = vec![0usize; nrows + 1];
        let mut indices = Vec::with_capacity(triplets.len());
        let mut data: Vec<f32> = Vec::with_capacity(triplets.len());
        let mut last: Option<(u32, u32)> = None;
        for (r, c, v) in triplets {
            debug_assert!((r as usize) < nrows && (c as usize) < ncols);
            if last == Some((r, c)) {
                if let Some(d) = data.last_mut() {
                    *d += v;
                }
                continue;
            }
            last = Some((r, c));
            indptr[r as usize + 1] += 1;
            indices.push(c);
            data.push(v);
        }
        for r in 0..nrows {
            indptr[r + 1] += indptr[r];
        }
        Self {
            indptr,
            indices,
            data,
            ncols,
        }
    }

    /// An empty matrix of the given shape.
    pub fn zeros(nrows: usize, ncols: usize) -> Self {
        Self::from_triplets(nrows, ncols, Vec::new())
    }

    pub fn nrows(&self) -> usize {
        self.indptr.len() - 1
    }

    pub fn ncols(&self) -> usize {
        self.ncols
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// The column indices and values of one row.
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let span = self.indptr[r]..self.indptr[r + 1];
        (&self.indices[span.clone()], &self.data[span])
    }

    /// Number of entries in one row.
    pub fn row_nnz(&self, r: usize) -> usize {
        self.indptr[r + 1] - self.indptr[r]
    }

    /// Iterates over `(row, column, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32, f32)> + '_ {
        (0..self.nrows()).flat_map(move |r| {
            let (cols, vals) = self.row(r);
            cols.iter().zip(vals).map(move |(&c, &v)| (r as u32, c, v))
        })
    }

    /// The transpose, built by a counting sort (no triplet sort).
    pub fn transpose(&self) -> Csr {
        let mut indptr = vec![0usize; self.ncols + 1];
        for &c in &self.indices {
            indptr[c as usize + 1] += 1;
        }
        for c in 0..self.ncols {
            indptr[c + 1] += indptr[c];
        }
        let mut next = indptr.clone();
        let mut indices = vec![0u32; self.nnz()];
        let mut data = vec![0f32; self.nnz()];
        for r in 0..self.nrows() {
            let (cols, vals) = self.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let at = next[c as usize];
                indices[at] = r as u32;
                data[at] = v;
                next[c as usize] += 1;
            }
        }
        Csr {
            indptr,
            indices,
            data,
            ncols: self.nrows(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triplets_are_sorted_and_duplicates_summed() {
        let m = Csr::from_triplets(
            3,
            4,
            vec![(2, 1, 1.0), (0, 3, 2.0), (0, 1, 1.0), (0, 3, 0.5)],
        );
        assert_eq!(m.nnz(), 3);
        assert_eq!(m.row(0), (&[1u32, 3][..], &[1.0f32, 2.5][..]));
        assert_eq!(m.row(1), (&[][..], &[][..]));
        assert_eq!(m.row(2), (&[1u32][..], &[1.0f32][..]));
    }

    #[test]
    fn transpose_twice_is_identity() {
        let m = Csr::from_triplets(
            3,
            4,
            vec![(2, 1, 1.0), (0, 3, 2.0), (0, 1, 3.0), (1, 0, 4.0)],
        );
        let t = m.transpose();
        assert_eq!((t.nrows(), t.ncols()), (4, 3));
        assert_eq!(t.row(1), (&[0u32, 2][..], &[3.0f32, 1.0][..]));
        assert_eq!(t.transpose(), m);
    }
}
