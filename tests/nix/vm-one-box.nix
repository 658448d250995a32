# NixOS VM test (flake check `vm-one-box`): a one-box store (local NATS and
# SurrealDB, every node the binary serves, an edge) and an all-in-one store
# boot; on each, a purchase is walked through the edge's real HTTP API, as
# tests/tests/platform/commerce.rs does in-process:
#   a seller signs up (the code read from the file mailbox), opens a shop
#   (a category made by an admin first if there is none) and lists a product;
#   a buyer signs up, adds it to the cart and checks out, cash on delivery,
#   with an Idempotency-Key; the seller moves the order forward to delivered;
#   the buyer sees it delivered and paid.
#
#   nix build .#checks.x86_64-linux.vm-one-box -L
#
# For pkgs.testers.runNixOSTest; `module` is the flake's nixosModules.default.
{ module }:
let
  # Where the mail node writes messages without SMTP (under dataDir).
  mailbox = "/var/lib/bazaar/mailbox";

  machine = bazaar: { pkgs, ... }: {
    imports = [ module ];
    virtualisation = {
      memorySize = 3072;
      cores = 2;
      diskSize = 4096;
    };
    services.bazaar = {
      enable = true;
      settings.BAZAAR_MAILBOX_DIR = mailbox;
    } // bazaar;
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
    # The running process holds the embedded database open, so bazaar-ctl
    # cannot make an admin there: the demo data brings the categories.
    tiny = machine {
      allInOne = {
        enable = true;
        seed = true;
      };
    };
  };

  testScript = ''
    import json
    import re
    import time

    BASE = "http://127.0.0.1:8080"
    MAILBOX = "${mailbox}"
    PASSWORD = "a long and secret password"
    ADDRESS = {
        "full_name": "Bea Buyer",
        "line1": "1 Market Street",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "de",
    }


    def api(machine, method, path, body=None, token=None, headers=None):
        """One JSON request at the edge: (HTTP status, decoded body or None)."""
        cmd = f"curl -sS -o /tmp/body -w '%{{http_code}}' -X {method} -H 'Accept: application/json'"
        if token:
            cmd += f" -H 'Authorization: Bearer {token}'"
        for name, value in (headers or {}).items():
            cmd += f" -H '{name}: {value}'"
        if body is not None:
            machine.succeed(f"cat > /tmp/request <<'EOF'\n{json.dumps(body)}\nEOF")
            cmd += " -H 'Content-Type: application/json' --data-binary @/tmp/request"
        status = int(machine.succeed(f"{cmd} {BASE}{path}"))
        text = machine.succeed("cat /tmp/body")
        return status, (json.loads(text) if text.strip() else None)


    def expect(machine, status, method, path, body=None, token=None, headers=None):
        """The decoded answer of a request that must answer `status`."""
        got, value = api(machine, method, path, body, token, headers)
        assert got == status, f"{method} {path}: expected {status}, got {got} {value!r}"
        return value


    def emailed_code(machine, email):
        """The 6-digit code of the newest message to `email` in the file mailbox
        (`mailbox.jsonl`: a JSON line a message, oldest first; the messages
        themselves are in `mailbox.mbox`)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = machine.succeed(f"cat {MAILBOX}/mailbox.jsonl 2>/dev/null || true").splitlines()
            for line in reversed(lines):
                message = json.loads(line)
                if message["to"] == email:
                    code = next((w for w in re.split(r"[^0-9]+", message["text"]) if len(w) == 6), None)
                    assert code, f"no code in {message!r}"
                    return code
            time.sleep(1)
        raise AssertionError(f"no email to {email} in {MAILBOX}")


    def sign_up(machine, kind, email, name):
        """A real account (kind: user or seller) through the code by email: its access token."""
        body = {"name": name, "email": email, "password": PASSWORD}
        if kind == "seller":
            body.update(phone="+49 30 1234567", country="DE")
        expect(machine, 202, "POST", f"/api/register/{kind}", body)
        code = emailed_code(machine, email)
        session = expect(machine, 200, "POST", "/api/register/verify", {"email": email, "otp": code})
        return session["access_token"]


    def admin_token(machine):
        """The first admin, made with bazaar-ctl (the units' sandbox and credentials), signed in."""
        machine.succeed(
            "install -d -m 0755 /run/bazaar-test",
            f"echo '{PASSWORD}' > /run/bazaar-test/admin-password",
            "chmod 0644 /run/bazaar-test/admin-password",
            "bazaar-ctl admin create --email admin@example.org --name Admin"
            + " --password-file /run/bazaar-test/admin-password",
        )
        session = expect(machine, 200, "POST", "/api/login", {"email": "admin@example.org", "password": PASSWORD})
        return session["access_token"]


    def a_category(machine):
        """The slug of a category, made by an admin when there is none."""
        categories = expect(machine, 200, "GET", "/api/categories")["categories"]
        if not categories:
            admin = admin_token(machine)
            expect(machine, 200, "POST", "/api/categories",
                   {"name": "Electronics", "subcategories": ["Audio", "Phones"]}, token=admin)
            categories = expect(machine, 200, "GET", "/api/categories")["categories"]
        assert categories, "no category after making one"
        return categories[0]["slug"]


    def walk_a_purchase(machine):
        category = a_category(machine)

        seller = sign_up(machine, "seller", "sam.seller@example.org", "Sam Seller")
        shop = expect(machine, 201, "POST", "/api/shops",
                      {"name": "VM Test Audio", "category": category, "bio": "We sell things."}, token=seller)
        assert shop["name"] == "VM Test Audio", shop
        product = expect(machine, 201, "POST", "/api/seller/products", {
            "title": "VM Test Amplifier",
            "description": "<p>The amplifier you were looking for.</p>",
            "category": category,
            "regular_price": 40000,
            "stock": 5,
            "cash_on_delivery": True,
        }, token=seller)

        buyer = sign_up(machine, "user", "bea.buyer@example.org", "Bea Buyer")
        cart = expect(machine, 200, "POST", "/api/cart/items",
                      {"product_id": product["id"], "quantity": 1}, token=buyer)
        assert cart["total"] == 40000, cart

        checkout = {"address": ADDRESS, "payment": "cod"}
        key = {"Idempotency-Key": "vm-one-box-checkout"}
        placed = expect(machine, 201, "POST", "/api/checkout", checkout, token=buyer, headers=key)
        assert placed["status"] == "placed", placed
        assert len(placed["orders"]) == 1, placed
        order_id = placed["orders"][0]["id"]
        # The same key again is the same checkout, never a second order.
        again = expect(machine, 201, "POST", "/api/checkout", checkout, token=buyer, headers=key)
        assert again["checkout_id"] == placed["checkout_id"], (placed, again)
        assert expect(machine, 200, "GET", "/api/orders", token=buyer)["total"] == 1

        for step in ("packed", "shipped", "out_for_delivery", "delivered"):
            order = expect(machine, 200, "POST", f"/api/seller/orders/{order_id}/status",
                           {"status": step}, token=seller)
            assert order["status"] == step, order

        order = expect(machine, 200, "GET", f"/api/orders/{order_id}", token=buyer)
        assert order["status"] == "delivered", order
        assert order["payment_status"] == "paid", order
        steps = [s["status"] for s in order["timeline"]]
        assert steps == ["ordered", "packed", "shipped", "out_for_delivery", "delivered"], steps


    start_all()

    with subtest("one box: every unit comes up behind bazaar.target"):
        store.wait_for_unit("bazaar.target")
        store.wait_for_unit("nats.service")
        store.wait_for_unit("surrealdb.service")
        store.wait_for_unit("bazaar-migrate.service")
        for domain in ("admin", "auth", "mail", "catalog", "search", "sellers", "orders", "recommend"):
            store.wait_for_unit(f"bazaar-{domain}@1.service")
        store.wait_for_unit("bazaar-edge@8080.service")
        store.wait_until_succeeds(f"curl -fsS {BASE}/readyz", timeout=300)

    with subtest("one box: secrets stay root-only, out of the store"):
        store.succeed("test $(stat -c %a /var/lib/bazaar-secrets) = 700")
        store.succeed("test $(stat -c %U /var/lib/bazaar-secrets/jwt-ed25519.pem) = root")
        store.succeed("test -s /var/lib/bazaar-secrets/cookie-secret")
        store.fail('grep -RqF "$(cat /var/lib/bazaar-secrets/surrealdb-password)" /etc/systemd/system')
        store.fail('grep -RqF "$(cat /var/lib/bazaar-secrets/cookie-secret)" /etc/systemd/system')

    with subtest("one box: a purchase, from sign-up to delivery"):
        walk_a_purchase(store)

    with subtest("all in one: the single process serves the shop"):
        tiny.wait_for_unit("bazaar.service")
        tiny.wait_until_succeeds(f"curl -fsS {BASE}/readyz", timeout=300)

    with subtest("all in one: a purchase, from sign-up to delivery"):
        walk_a_purchase(tiny)
  '';
}
