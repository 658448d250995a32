# Stand-ins for the flake's inputs (nixpkgs, crane), so flake.nix's outputs
# evaluate offline: builders return derivation-shaped sets that keep their
# arguments for inspection. `lib` is the real nixpkgs lib.
{ lib }:
let
  base = import ./stub-pkgs.nix;
  fake = name: base.bazaar // {
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  builder = name: args: fake name // { inherit args; };

  pkgsFor = system: base // {
    cmake = fake "cmake";
    perl = fake "perl";
    chromium = fake "chromium";
    chromedriver = fake "chromedriver";
    nixpkgs-fmt = fake "nixpkgs-fmt";
    deadnix = fake "deadnix";
    rust-analyzer = fake "rust-analyzer";
    natscli = fake "natscli";
    mold = fake "mold";
    python3.withPackages = f: builder "python3-env" (f { aiosmtpd = fake "aiosmtpd"; });
    writeShellApplication = args: builder args.name args;
    runCommand = name: env: script: builder name { inherit env script; };
    testers.runNixOSTest = builder "nixos-test";
    dockerTools = {
      buildLayeredImage = args: builder "docker-image-${args.name}.tar.gz" args;
      caCertificates = fake "docker-ca-certificates";
      fakeNss = fake "fake-nss" // { override = builder "fake-nss"; };
    };
    stdenv.hostPlatform = {
      inherit system;
      isx86_64 = lib.hasPrefix "x86_64" system;
    };
  };
in
{
  nixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] pkgsFor;
  };
  crane.mkLib = _pkgs: {
    buildDepsOnly = builder "bazaar-deps";
    buildPackage = builder "bazaar";
    cargoFmt = builder "bazaar-fmt";
    cargoClippy = builder "bazaar-clippy";
    cargoTest = builder "bazaar-tests";
    devShell = builder "bazaar-shell";
  };
  inherit pkgsFor;
}
