{
  description = "Bazaar, a multi-vendor marketplace: stateless worker nodes on NATS and SurrealDB";

  # No flake.lock is committed yet: the first `nix flake lock` (with network)
  # writes it, and from then on it is kept in git (docs/deploy-nixos.md).
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    crane.url = "github:ipetkov/crane";
  };

  outputs = { self, nixpkgs, crane }:
    let
      inherit (nixpkgs) lib;

      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      cargoToml = lib.importTOML ./Cargo.toml;
      version = cargoToml.workspace.package.version;

      # What cargo reads (sources, templates, static files, migrations) and
      # nothing else, so editing the Nix files, docs or CI rebuilds nothing.
      notForCargo = [ "docs" "nixos-modules" "scripts" "tests/nix" ".ci" "flake.nix" "flake.lock" "target" ];
      src = lib.cleanSourceWith {
        name = "bazaar-source";
        src = lib.cleanSource ./.;
        filter = path: _type:
          !(lib.elem (lib.removePrefix "${toString ./.}/" (toString path)) notForCargo);
      };

      # The Nix files, for the format and dead-code check.
      nixSrc = lib.cleanSourceWith {
        name = "bazaar-nix";
        src = lib.cleanSource ./.;
        filter = path: type: type == "directory" || lib.hasSuffix ".nix" (toString path);
      };

      # What the OCI image and docs/compose/compose.yaml agree on: the
      # user's id, its data dir (a volume), where the NATS credentials are
      # written, the edge's HTTP port and every process's metrics port.
      image = {
        uid = 10001;
        dataDir = "/var/lib/bazaar";
        natsDir = "/var/lib/bazaar-nats";
        httpPort = 8080;
        metricsPort = 9464;
      };

      perSystem = pkgs:
        let
          craneLib = crane.mkLib pkgs;

          commonArgs = {
            inherit src version;
            pname = "bazaar";
            strictDeps = true;
            # aws-lc-sys (rustls' crypto provider, via SurrealDB) builds C code.
            nativeBuildInputs = [ pkgs.cmake pkgs.perl ];
          };

          # The workspace's dependencies, built once and shared by every
          # derivation below (build, clippy, tests). Crane stubs the source
          # of every crate it finds for this step; the patched crates under
          # vendor/ are dependencies (SurrealDB builds on them), so they go
          # back in whole.
          cargoArtifacts = craneLib.buildDepsOnly (commonArgs // {
            extraDummyScript = ''
              rm -rf $out/vendor
              cp -r --no-preserve=mode,ownership ${./vendor} $out/vendor
            '';
          });

          bazaar = craneLib.buildPackage (commonArgs // {
            inherit cargoArtifacts;
            cargoExtraArgs = "--locked -p bazaar";
            doCheck = false; # the tests run in checks.tests
            meta = {
              description = "The Bazaar binary: dev platform, nodes, edge, migrations";
              license = lib.licenses.agpl3Plus;
              mainProgram = "bazaar";
              platforms = lib.platforms.linux;
            };
          });

          python = pkgs.python3.withPackages (ps: [ ps.aiosmtpd ps.schemathesis ]);

          # Real servers the integration tests start: NATS, SMTP, a browser (and
          # schemathesis, the API fuzzer, from the same Python).
          testServers = [ pkgs.nats-server python pkgs.chromium pkgs.chromedriver ];
          browserEnv = {
            CHROME_BIN = "${pkgs.chromium}/bin/chromium";
            CHROMEDRIVER = "${pkgs.chromedriver}/bin/chromedriver";
          };

          # `nix run`: the whole platform in one process, its data under
          # $XDG_DATA_HOME/bazaar unless BAZAAR_DATA_DIR says otherwise.
          dev = pkgs.writeShellApplication {
            name = "bazaar-dev";
            runtimeInputs = [ bazaar pkgs.nats-server ];
            text = ''
              export BAZAAR_DATA_DIR="''${BAZAAR_DATA_DIR:-''${XDG_DATA_HOME:-$HOME/.local/share}/bazaar}"
              exec bazaar dev "$@"
            '';
          };

          # The OCI image, for hosts without Nix: `docker load < result`.
          # No base distribution: the binary, nats-server (which `bazaar
          # serve` starts when no NATS answers, for a one-box container), CA
          # certificates for outbound TLS (Stripe, SMTP, Google sign-in), a
          # passwd entry for the one non-root user, and its directories,
          # owned by it so that a fresh named volume mounted there is too.
          # docs/containers.md runs a cluster of them with compose.
          oci-image = pkgs.dockerTools.buildLayeredImage {
            name = "bazaar";
            tag = version;
            contents = [
              bazaar
              pkgs.nats-server
              pkgs.dockerTools.caCertificates
              (pkgs.dockerTools.fakeNss.override {
                extraPasswdLines = [ "bazaar:x:${toString image.uid}:${toString image.uid}:Bazaar:${image.dataDir}:/sbin/nologin" ];
                extraGroupLines = [ "bazaar:x:${toString image.uid}:" ];
              })
            ];
            fakeRootCommands = ''
              mkdir -p .${image.dataDir} .${image.natsDir} tmp
              chown ${toString image.uid}:${toString image.uid} .${image.dataDir} .${image.natsDir}
              chmod 0700 .${image.dataDir}
              chmod 1777 tmp
            '';
            config = {
              Entrypoint = [ "${bazaar}/bin/bazaar" ];
              # The whole platform in one process; compose gives each
              # container its own command (`node <domain>`, `edge`, …).
              Cmd = [ "serve" ];
              User = "${toString image.uid}:${toString image.uid}";
              WorkingDir = image.dataDir;
              Env = [
                "PATH=/bin"
                "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"
                "BAZAAR_DATA_DIR=${image.dataDir}"
                "BAZAAR_HTTP_ADDR=0.0.0.0:${toString image.httpPort}"
                "BAZAAR_METRICS_ADDR=0.0.0.0:${toString image.metricsPort}"
                "BAZAAR_LOG_FORMAT=json"
                "RUST_LOG=info"
              ];
              ExposedPorts = {
                "${toString image.httpPort}/tcp" = { };
                "${toString image.metricsPort}/tcp" = { };
              };
              Volumes = { "${image.dataDir}" = { }; };
              Labels = {
                "org.opencontainers.image.title" = "bazaar";
                "org.opencontainers.image.description" = "Bazaar, a multi-vendor marketplace: the one binary (nodes, edge, migrations, NATS credentials)";
                "org.opencontainers.image.version" = version;
                "org.opencontainers.image.licenses" = "AGPL-3.0-or-later";
              };
            };
          };
        in
        {
          packages = {
            default = bazaar;
            inherit bazaar oci-image;
          };

          apps.default = {
            type = "app";
            program = "${dev}/bin/bazaar-dev";
            meta.description = "Bazaar on this machine: every node and the edge in one process";
          };

          checks = {
            inherit bazaar;

            fmt = craneLib.cargoFmt { inherit src version; pname = "bazaar"; };

            clippy = craneLib.cargoClippy (commonArgs // {
              inherit cargoArtifacts;
              cargoClippyExtraArgs = "--workspace --all-targets -- --deny warnings";
            });

            tests = craneLib.cargoTest (commonArgs // browserEnv // {
              inherit cargoArtifacts;
              nativeBuildInputs = commonArgs.nativeBuildInputs ++ testServers;
              cargoTestExtraArgs = "--workspace";
              # nats-server, chromium and the SMTP server want a writable home.
              preBuild = ''export HOME="$TMPDIR"'';
            });

            nix-lint = pkgs.runCommand "bazaar-nix-lint"
              { nativeBuildInputs = [ pkgs.nixpkgs-fmt pkgs.deadnix ]; }
              ''
                cd ${nixSrc}
                nixpkgs-fmt --check .
                deadnix --fail .
                touch $out
              '';

            # tests/nix/eval.nix, evaluated with this nixpkgs' lib: a failing
            # test fails the evaluation of this check.
            module-eval =
              let
                results = (import ./tests/nix/eval.nix { inherit lib; }).results;
                failed = lib.filterAttrs (_: result: !result.ok) results;
              in
              if failed == { } then
                pkgs.runCommand "bazaar-module-eval" { } ''
                  echo "${toString (lib.length (lib.attrNames results))} passed, 0 failed" > $out
                ''
              else
                throw "services.bazaar evaluation tests failed: ${builtins.toJSON failed}";
          } // lib.optionalAttrs pkgs.stdenv.hostPlatform.isx86_64 {
            # Boots one-box and all-in-one stores in VMs and walks a purchase.
            vm-one-box = pkgs.testers.runNixOSTest (import ./tests/nix/vm-one-box.nix {
              module = self.nixosModules.default;
            });
          };

          devShells.default = craneLib.devShell ({
            inputsFrom = [ bazaar ];
            packages = testServers ++ [
              pkgs.rust-analyzer
              pkgs.natscli
              pkgs.surrealdb
              pkgs.mold
              pkgs.nixpkgs-fmt
              pkgs.deadnix
            ];
          } // browserEnv);
        };

      bySystem = forAllSystems perSystem;
    in
    {
      packages = lib.mapAttrs (_: s: s.packages) bySystem;
      apps = lib.mapAttrs (_: s: s.apps) bySystem;
      checks = lib.mapAttrs (_: s: s.checks) bySystem;
      devShells = lib.mapAttrs (_: s: s.devShells) bySystem;

      overlays.default = final: _prev: {
        bazaar = self.packages.${final.stdenv.hostPlatform.system}.default;
      };

      # services.bazaar, with this flake's build as the default package.
      nixosModules.default = { lib, pkgs, ... }: {
        imports = [ ./nixos-modules ];
        services.bazaar.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      };
      nixosModules.bazaar = self.nixosModules.default;
    };
}
