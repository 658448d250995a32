# Typed stand-ins for the few NixOS options that services.bazaar and its
# examples set, so the module evaluates with nixpkgs' `lib` alone (no nixpkgs
# checkout, no network). Types and merge rules follow nixos/lib/systemd-*.nix
# and the nixpkgs modules of NATS and SurrealDB; the examples' other services
# (nginx, ACME, containers) are accepted as free-form values.
{ lib, pkgs, ... }:
let
  inherit (lib) mkOption types;

  # nixos/lib/systemd-unit-options.nix: lists concatenate, scalars must agree.
  unitValue = types.oneOf [ types.bool types.int types.str types.package ];
  unitOption = lib.mkOptionType {
    name = "systemd option";
    description = "systemd unit setting (bool, int, string or a list of them)";
    check = value: unitValue.check value || (builtins.isList value && builtins.all unitValue.check value);
    merge = loc: defs:
      if builtins.any (def: builtins.isList def.value) defs
      then lib.concatMap (def: lib.toList def.value) defs
      else lib.mergeEqualOption loc defs;
  };

  units = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };

  unitSection = mkOption {
    type = types.attrsOf unitOption;
    default = { };
  };

  commonUnit = {
    enable = mkOption {
      type = types.bool;
      default = true;
    };
    description = mkOption {
      type = types.str;
      default = "";
    };
    wantedBy = units;
    requiredBy = units;
    wants = units;
    requires = units;
    after = units;
    before = units;
    partOf = units;
    bindsTo = units;
    unitConfig = unitSection;
  };

  service = types.submodule {
    options = commonUnit // {
      serviceConfig = unitSection;
      environment = mkOption {
        type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]));
        default = { };
      };
      path = mkOption {
        type = types.listOf (types.either types.package types.str);
        default = [ ];
      };
      script = mkOption {
        type = types.lines;
        default = "";
      };
      restartTriggers = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
    };
  };

  timer = types.submodule {
    options = commonUnit // { timerConfig = unitSection; };
  };

  target = types.submodule { options = commonUnit; };

  freeform = mkOption {
    type = types.attrsOf types.anything;
    default = { };
  };

  ports = mkOption {
    type = types.listOf types.port;
    default = [ ];
  };
in
{
  options = {
    assertions = mkOption {
      type = types.listOf (types.submodule {
        options = {
          assertion = mkOption { type = types.bool; };
          message = mkOption { type = types.str; };
        };
      });
      default = [ ];
    };

    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };

    systemd = {
      services = mkOption {
        type = types.attrsOf service;
        default = { };
      };
      timers = mkOption {
        type = types.attrsOf timer;
        default = { };
      };
      targets = mkOption {
        type = types.attrsOf target;
        default = { };
      };
      tmpfiles.rules = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
    };

    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };

    networking = {
      hostName = mkOption {
        type = types.str;
        default = "nixos";
      };
      firewall = {
        allowedTCPPorts = ports;
        interfaces = mkOption {
          type = types.attrsOf (types.submodule { options.allowedTCPPorts = ports; });
          default = { };
        };
      };
    };

    # nixos/modules/services/networking/nats.nix
    services.nats = {
      enable = mkOption {
        type = types.bool;
        default = false;
      };
      jetstream = mkOption {
        type = types.bool;
        default = false;
      };
      serverName = mkOption {
        type = types.str;
        default = "nats";
      };
      port = mkOption {
        type = types.port;
        default = 4222;
      };
      dataDir = mkOption {
        type = types.path;
        default = "/var/lib/nats";
      };
      settings = freeform;
    };

    # nixos/modules/services/databases/surrealdb.nix
    services.surrealdb = {
      enable = mkOption {
        type = types.bool;
        default = false;
      };
      package = mkOption {
        type = types.package;
        default = pkgs.surrealdb;
      };
      dbPath = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      host = mkOption {
        type = types.str;
        default = "127.0.0.1";
      };
      port = mkOption {
        type = types.port;
        default = 8000;
      };
      extraFlags = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
    };

    # nixos/modules/services/monitoring/prometheus/default.nix
    services.prometheus = {
      enable = mkOption {
        type = types.bool;
        default = false;
      };
      scrapeConfigs = mkOption {
        type = types.listOf (types.attrsOf types.anything);
        default = [ ];
      };
    };

    services.nginx = freeform;
    security.acme = freeform;
    virtualisation = {
      oci-containers = freeform;
      # nixos/modules/virtualisation/qemu-vm.nix (the VM test's machines)
      memorySize = mkOption {
        type = types.ints.positive;
        default = 1024;
      };
      cores = mkOption {
        type = types.ints.positive;
        default = 1;
      };
      diskSize = mkOption {
        type = types.ints.positive;
        default = 1024;
      };
    };
  };
}
