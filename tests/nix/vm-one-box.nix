# NixOS VM test (flake check `vm-one-box`): a one-box store (local NATS and
# SurrealDB, every node, an edge) and an all-in-one store boot; a shopper walks
# through a purchase over HTTP at the store's edge.
#
#   nix build .#checks.x86_64-linux.vm-one-box -L
#
# For pkgs.testers.runNixOSTest; `module` is the flake's nixosModules.default.
{ module }:
let
  machine = bazaar: { pkgs, ... }: {
    imports = [ module ];
    virtualisation = {
      memorySize = 3072;
      cores = 2;
      diskSize = 4096;
    };
    services.bazaar = { enable = true; } // bazaar;
    environment.systemPackages = [ pkgs.curl ];
  };
in
{
  name = "bazaar-one-box";

  nodes = {
    store = machine {
      nats.local = true;
      surrealdb.local = true;
    };
    tiny = machine {
      allInOne.enable = true;
    };
  };

  testScript = ''
    import json

    BASE = "http://127.0.0.1:8080"


    def api(machine, method, path, body=None, token=None):
        """One JSON request at the edge: (HTTP status, decoded body or None)."""
        cmd = f"curl -sS -o /tmp/body -w '%{{http_code}}' -X {method} -H 'Accept: application/json'"
        if token:
            cmd += f" -H 'Authorization: Bearer {token}'"
        if body is not None:
            machine.succeed(f"cat > /tmp/request <<'EOF'\n{json.dumps(body)}\nEOF")
            cmd += " -H 'Content-Type: application/json' --data-binary @/tmp/request"
        status = int(machine.succeed(f"{cmd} {BASE}{path}"))
        text = machine.succeed("cat /tmp/body")
        return status, (json.loads(text) if text.strip() else None)


    def items(value):
        """A list from a list response, bare or wrapped ({"items": [...]} and kin)."""
        if isinstance(value, list):
            return value
        for key in ("items", "products", "data", "results"):
            if isinstance(value, dict) and isinstance(value.get(key), list):
                return value[key]
        raise AssertionError(f"not a list response: {value!r}")


    start_all()

    with subtest("one box: every unit comes up behind bazaar.target"):
        store.wait_for_unit("bazaar.target")
        store.wait_for_unit("nats.service")
        store.wait_for_unit("surrealdb.service")
        store.wait_for_unit("bazaar-migrate.service")
        store.wait_for_unit("bazaar-catalog@1.service")
        store.wait_for_unit("bazaar-edge@8080.service")
        store.wait_until_succeeds(f"curl -fsS {BASE}/readyz", timeout=300)

    with subtest("one box: secrets stay root-only, out of the store"):
        store.succeed("test $(stat -c %a /var/lib/bazaar-secrets) = 700")
        store.succeed("test $(stat -c %U /var/lib/bazaar-secrets/jwt-ed25519.pem) = root")
        store.fail('grep -RqF "$(cat /var/lib/bazaar-secrets/surrealdb-password)" /etc/systemd/system')

    with subtest("one box: the catalog answers JSON through the edge"):
        status, categories = api(store, "GET", "/api/categories")
        assert status == 200, f"GET /api/categories: {status} {categories!r}"
        assert categories is not None

    with subtest("one box: a shopper registers and checks out"):
        store.succeed("bazaar-ctl seed")
        status, account = api(store, "POST", "/api/register/user", {
            "email": "shopper@example.com",
            "password": "correct horse battery staple",
            "name": "Sam Shopper",
        })
        assert status in (200, 201), f"register: {status} {account!r}"
        token = account.get("token") or account.get("access_token")
        assert token, f"no token in {account!r}"

        status, products = api(store, "GET", "/api/products")
        assert status == 200, f"GET /api/products: {status} {products!r}"
        product = items(products)[0]

        status, checkout = api(store, "POST", "/api/checkout", {
            "items": [{"product_id": product["id"], "quantity": 1}],
        }, token=token)
        assert 200 <= status < 300, f"checkout: {status} {checkout!r}"

    with subtest("all in one: the single process serves the shop"):
        tiny.wait_for_unit("bazaar.service")
        tiny.wait_until_succeeds(f"curl -fsS {BASE}/readyz", timeout=300)
        status, categories = api(tiny, "GET", "/api/categories")
        assert status == 200, f"GET /api/categories: {status} {categories!r}"
  '';
}
