# Stand-ins for the few packages and builders services.bazaar and its examples
# use: derivation-shaped attribute sets with a fake store path, so the module
# evaluates without nixpkgs. Scripts keep their text for inspection.
let
  fake = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    overrideAttrs = _: fake name;
  };
  script = name: text: fake name // { inherit text; };
in
{
  bazaar = fake "bazaar-0.1.0";
  nats-server = fake "nats-server-2.12.0";
  openssl = fake "openssl-3.5.0";
  protobuf = fake "protobuf-31.0";
  surrealdb = fake "surrealdb-3.0.0";
  systemd = fake "systemd-258";
  writeShellScript = script;
  writeShellScriptBin = script;
  writeText = script;
}
