# Evaluation tests of services.bazaar: the real NixOS module system
# (lib.evalModules from nixpkgs' lib/) with typed stubs of the NixOS options the
# module sets. Each test is { ok; detail }; tests/nix/run evaluates them one
# by one and prints a line each.
#
#   nix-instantiate --eval --strict --json tests/nix/eval.nix \
#     --argstr nixpkgsLib /path/to/nixpkgs/lib -A results.one-box.units
{ nixpkgsLib ? null
, lib ? import (/. + nixpkgsLib)
}:
let
  inherit (lib) hasInfix hasPrefix;

  helpers = import ../../nixos-modules/lib.nix { inherit lib; };
  pkgs = import ./stub-pkgs.nix;
  examples = ../../nixos-modules/examples;

  evalBazaar = modules: (lib.evalModules {
    modules = [
      ./stubs.nix
      { _module.args.pkgs = pkgs; }
      ../../nixos-modules
    ] ++ modules;
  }).config;

  # A one-box store with local NATS and SurrealDB, plus `extra`.
  store = extra: evalBazaar [
    {
      services.bazaar = {
        enable = true;
        nats.local = true;
        surrealdb.local = true;
      };
    }
    extra
  ];

  oneBox = evalBazaar [ (examples + "/one-box.nix") ];
  allInOne = evalBazaar [ (examples + "/all-in-one.nix") ];
  box1 = evalBazaar [ (examples + "/three-box/box1.nix") ];
  box2 = evalBazaar [ (examples + "/three-box/box2.nix") ];
  box3 = evalBazaar [ (examples + "/three-box/box3.nix") ];

  start = "${pkgs.writeShellScript "bazaar-start" ""}";
  show = builtins.toJSON;

  failures = config: map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
  services = config: config.systemd.services;
  unit = config: name: config.systemd.services.${name};
  serviceConfig = config: name: (unit config name).serviceConfig;
  wants = config: lib.sort (a: b: a < b) config.systemd.targets.bazaar.wants;
  bazaarUnits = config: lib.filter (hasPrefix "bazaar") (builtins.attrNames (services config));

  # The test forms. `detail` says what went wrong; it is only built on failure.
  holds = ok: detail: {
    inherit ok;
    detail = if ok then "" else detail;
  };
  expect = actual: expected:
    holds (actual == expected) "expected ${show expected}, got ${show actual}";
  clean = config:
    holds (failures config == [ ] && config.warnings == [ ])
      "failed assertions: ${show (failures config)}; warnings: ${show config.warnings}";
  rejects = text: config:
    holds (lib.any (hasInfix text) (failures config))
      "no failed assertion says \"${text}\"; failed assertions: ${show (failures config)}";
  # An evaluation error (a type check), which assertions cannot report.
  throws = value:
    holds (!(builtins.tryEval (builtins.deepSeq value value)).success) "evaluated without an error";

  # Every path handed to a unit as a credential or environment file.
  secretPaths = config: lib.concatMap
    (name:
      let sc = serviceConfig config name; in
      map (c: lib.last (lib.splitString ":" c)) (sc.LoadCredential or [ ]) ++ (sc.EnvironmentFile or [ ]))
    (builtins.attrNames (services config));

  # The node units of the domains the binary serves (the others are off).
  everyNode = map (domain: "bazaar-${domain}@") helpers.servedDomains;

  # flake.nix's outputs with stand-in inputs.
  inputs = import ./stub-flake-inputs.nix { inherit lib; };
  flake = (import ../../flake.nix).outputs {
    inherit (inputs) nixpkgs crane;
    self = flake;
  };
  x86 = "x86_64-linux";
  vmTest = flake.checks.${x86}.vm-one-box.args;
  # A machine of the VM test, evaluated like any other configuration.
  vmMachine = name: lib.evalModules {
    modules = [
      ./stubs.nix
      { _module.args.pkgs = inputs.pkgsFor x86; }
      vmTest.nodes.${name}
    ];
  };

  # The OCI image's arguments, and docs/compose/compose.yaml read line by line
  # (Nix reads no YAML; tests/nix/run checks its structure with Python).
  image = flake.packages.${x86}.oci-image.args;
  version = (lib.importTOML ../../Cargo.toml).workspace.package.version;
  composeDir = ../../docs/compose;
  composeLines = lib.splitString "\n" (builtins.readFile (composeDir + "/compose.yaml"));
  # Each `  <name>:` under `services:` and the `command:` lines under it.
  composeServices = (builtins.foldl'
    (acc: line:
      let
        top = builtins.match "([a-z-]+):.*" line;
        service = builtins.match "  ([a-z0-9-]+):( &[a-z-]+)?" line;
        command = builtins.match "    command: [[](.*)[]]" line;
      in
      if top != null then acc // { inServices = builtins.head top == "services"; }
      else if !acc.inServices then acc
      else if service != null then acc // { services = acc.services ++ [{ name = builtins.head service; command = null; }]; }
      else if command != null && acc.services != [ ] then
        acc // { services = lib.init acc.services ++ [ (lib.last acc.services // { command = lib.splitString ", " (builtins.head command); }) ]; }
      else acc)
    { inServices = false; services = [ ]; }
    composeLines).services;
  composeService = name: lib.findFirst (s: s.name == name) null composeServices;
  natsBase = lib.importJSON (composeDir + "/nats-server.json");
in
{
  results = {
    # ---- pure helpers -------------------------------------------------------
    "helpers.render-env" = expect
      (helpers.renderEnv { A = true; B = false; C = 5; D = [ "x" "y" ]; E = null; F = "s"; })
      { A = "true"; B = "false"; C = "5"; D = "x,y"; F = "s"; };

    "helpers.secret-names" = expect
      (map helpers.isSecretName [
        "BAZAAR_STRIPE_SECRET_KEY"
        "BAZAAR_SMTP_PASSWORD"
        "BAZAAR_JWT_PRIVATE_KEY_FILE"
        "BAZAAR_SOME_API_TOKEN"
        "BAZAAR_PUBLIC_URL"
        "BAZAAR_JWT_PUBLIC_KEY_FILE"
        "BAZAAR_GOOGLE_CLIENT_ID"
      ])
      [ true true true true false false false ];

    "helpers.url-password" = expect
      (map helpers.urlHasPassword [
        "smtps://shop:hunter2@mail.example.com:465"
        "nats://app:pw@10.0.0.1:4222"
        "smtps://shop@mail.example.com:465"
        "nats://10.0.0.1:4222,nats://10.0.0.2:4222"
        "ws://127.0.0.1:8000"
      ])
      [ true true false false false ];

    "helpers.secret-paths" = expect
      (map helpers.isSafeSecretPath [
        "/run/secrets/stripe"
        "${builtins.storeDir}/0000-stripe"
        "secrets/stripe"
      ])
      [ true false false ];

    "helpers.instances-and-ports" = expect
      {
        names = helpers.instanceNames 3;
        ports = helpers.edgePorts 8080 3;
        v4 = helpers.hostPort "0.0.0.0" 80;
        v6 = helpers.hostPort "::" 80;
      }
      { names = [ "1" "2" "3" ]; ports = [ 8080 8081 8082 ]; v4 = "0.0.0.0:80"; v6 = "[::]:80"; };

    "helpers.database-kinds" = expect
      (map (url: [ (helpers.isServerDatabase url) (helpers.isEmbeddedDatabase url) ]) [
        "ws://127.0.0.1:8000"
        "wss://db.example.com"
        "surrealkv:///var/lib/bazaar/db"
        "mem://"
      ])
      [ [ true false ] [ true false ] [ false true ] [ false true ] ];

    "helpers.is-under" = expect
      (map (path: helpers.isUnder "/var/lib/bazaar" path) [ "/var/lib/bazaar" "/var/lib/bazaar/mailbox" "/var/lib/bazaar-mail" "/srv/mail" ])
      [ true true false false ];

    # The binary's nodes/bazaar/src/platform.rs DOMAINS, in the topology's order.
    "helpers.served-domains" = expect
      (lib.filter helpers.isServed helpers.domains)
      [ "admin" "auth" "mail" "catalog" "search" "sellers" "orders" "chat" "logs" "recommend" "analytics" ];

    "helpers.nats-cluster" = expect
      (helpers.natsCluster { name = "bazaar"; port = 6222; routes = [ "nats://a:6222" ]; })
      { name = "bazaar"; listen = "0.0.0.0:6222"; routes = [ "nats://a:6222" ]; };

    "helpers.list-sentence" = expect
      (map helpers.listSentence [ [ ] [ "a" ] [ "a" "b" "c" ] ])
      [ "" "a" "a, b and c" ];

    "helpers.run-properties" = expect
      (helpers.runProperties {
        environment = { BAZAAR_MAIL_FROM = "Shop <s@example.com>"; };
        serviceConfig = { DynamicUser = true; LoadCredential = [ "A:/a" "B:/b" ]; ProtectSystem = "strict"; };
      })
      [
        ''--property=Environment="BAZAAR_MAIL_FROM=Shop <s@example.com>"''
        "--property=DynamicUser=true"
        "--property=LoadCredential=A:/a"
        "--property=LoadCredential=B:/b"
        "--property=ProtectSystem=strict"
      ];

    # ---- one box (examples/one-box.nix) ----------------------------------------
    "one-box.clean" = clean oneBox;

    "one-box.target-wants" = expect (wants oneBox) (lib.sort (a: b: a < b) ([
      "bazaar-edge@8080.service"
      "bazaar-edge@8081.service"
      "bazaar-catalog@2.service"
      "bazaar-migrate.service"
      "bazaar-secrets.service"
    ] ++ map (d: "bazaar-${d}@1.service") helpers.servedDomains));

    "one-box.units" = expect (lib.sort (a: b: a < b) (bazaarUnits oneBox))
      (lib.sort (a: b: a < b) (everyNode ++ [ "bazaar-edge@" "bazaar-migrate" "bazaar-nats-setup" "bazaar-retrain" "bazaar-secrets" ]));

    "one-box.exec-start" = expect
      {
        catalog = (serviceConfig oneBox "bazaar-catalog@").ExecStart;
        auth = (serviceConfig oneBox "bazaar-auth@").ExecStart;
        edge = (serviceConfig oneBox "bazaar-edge@").ExecStart;
        migrate = (serviceConfig oneBox "bazaar-migrate").ExecStart;
        nodes = map (domain: (serviceConfig oneBox "bazaar-${domain}@").ExecStart) helpers.servedDomains;
      }
      {
        catalog = "${start} node catalog";
        auth = "${start} node auth";
        edge = "${start} edge";
        migrate = "${start} migrate";
        nodes = map (domain: "${start} node ${domain}") helpers.servedDomains;
      };

    "one-box.environment" = expect
      (builtins.intersectAttrs
        {
          BAZAAR_DATA_DIR = 1;
          BAZAAR_NATS_URL = 1;
          BAZAAR_DATABASE_URL = 1;
          BAZAAR_DATABASE_USER = 1;
          BAZAAR_PUBLIC_URL = 1;
          BAZAAR_SMTP_URL = 1;
          BAZAAR_MAIL_FROM = 1;
          BAZAAR_GOOGLE_CLIENT_ID = 1;
          BAZAAR_LOG_FORMAT = 1;
          RUST_LOG = 1;
          BAZAAR_CORS_ORIGINS = 1;
        }
        (unit oneBox "bazaar-orders@").environment)
      {
        BAZAAR_DATA_DIR = "/var/lib/bazaar";
        BAZAAR_NATS_URL = "nats://127.0.0.1:4222";
        BAZAAR_DATABASE_URL = "ws://127.0.0.1:8000";
        BAZAAR_DATABASE_USER = "root";
        BAZAAR_PUBLIC_URL = "https://shop.example.com";
        BAZAAR_SMTP_URL = "smtps://shop@mail.example.com:465";
        BAZAAR_MAIL_FROM = "Example Shop <shop@example.com>";
        BAZAAR_GOOGLE_CLIENT_ID = "1234567890-example.apps.googleusercontent.com";
        BAZAAR_LOG_FORMAT = "json";
        RUST_LOG = "info";
      };

    "one-box.edge-listens-per-instance" = expect
      (serviceConfig oneBox "bazaar-edge@").Environment
      [ "BAZAAR_NATS_CREDENTIALS_DIR=%d" "BAZAAR_HTTP_ADDR=127.0.0.1:%i" ];

    # Each search copy keeps its own index (one writer per directory); other
    # nodes get no such setting.
    "one-box.search-index-per-copy" = expect
      {
        search = (serviceConfig oneBox "bazaar-search@").Environment;
        catalog = (serviceConfig oneBox "bazaar-catalog@").Environment;
      }
      {
        search = [ "BAZAAR_NATS_CREDENTIALS_DIR=%d" "BAZAAR_SEARCH_INDEX_DIR=/var/lib/bazaar/search-index-%i" ];
        catalog = [ "BAZAAR_NATS_CREDENTIALS_DIR=%d" ];
      };

    "one-box.hardening" = expect
      (builtins.intersectAttrs
        {
          DynamicUser = 1;
          StateDirectory = 1;
          ProtectSystem = 1;
          NoNewPrivileges = 1;
          PrivateTmp = 1;
          RestrictAddressFamilies = 1;
          SystemCallFilter = 1;
          UMask = 1;
          CapabilityBoundingSet = 1;
          ProtectHome = 1;
          PrivateUsers = 1;
          MemoryDenyWriteExecute = 1;
        }
        (serviceConfig oneBox "bazaar-catalog@"))
      {
        DynamicUser = true;
        StateDirectory = "bazaar";
        ProtectSystem = "strict";
        NoNewPrivileges = true;
        PrivateTmp = true;
        RestrictAddressFamilies = [ "AF_INET" "AF_INET6" "AF_UNIX" ];
        SystemCallFilter = [ "@system-service" "~@privileged" ];
        UMask = "0077";
        CapabilityBoundingSet = [ "" ];
        ProtectHome = true;
        PrivateUsers = true;
        MemoryDenyWriteExecute = true;
      };

    "one-box.every-unit-hardened" = holds
      (lib.all
        (name:
          let sc = serviceConfig oneBox name; in
          sc.DynamicUser && sc.ProtectSystem == "strict" && sc.NoNewPrivileges && sc.UMask == "0077")
        (everyNode ++ [ "bazaar-edge@" "bazaar-migrate" ]))
      "a bazaar unit lacks DynamicUser, ProtectSystem=strict, NoNewPrivileges or UMask=0077";

    "one-box.signing-key-only-for-auth" = expect
      (map
        (name: lib.filter (hasPrefix "BAZAAR_JWT") (serviceConfig oneBox name).LoadCredential)
        [ "bazaar-auth@" "bazaar-catalog@" "bazaar-edge@" "bazaar-migrate" ])
      [
        [
          "BAZAAR_JWT_PRIVATE_KEY_FILE:/var/lib/bazaar-secrets/jwt-ed25519.pem"
          "BAZAAR_JWT_PUBLIC_KEY_FILE:/var/lib/bazaar-secrets/jwt-ed25519.pub.pem"
        ]
        [ "BAZAAR_JWT_PUBLIC_KEY_FILE:/var/lib/bazaar-secrets/jwt-ed25519.pub.pem" ]
        [ "BAZAAR_JWT_PUBLIC_KEY_FILE:/var/lib/bazaar-secrets/jwt-ed25519.pub.pem" ]
        [ "BAZAAR_JWT_PUBLIC_KEY_FILE:/var/lib/bazaar-secrets/jwt-ed25519.pub.pem" ]
      ];

    "one-box.credentials" = expect
      (lib.sort (a: b: a < b) (serviceConfig oneBox "bazaar-orders@").LoadCredential)
      [
        "BAZAAR_DATABASE_PASSWORD:/var/lib/bazaar-secrets/surrealdb-password"
        "BAZAAR_GOOGLE_CLIENT_SECRET:/run/secrets/bazaar/google-client-secret"
        "BAZAAR_JWT_PUBLIC_KEY_FILE:/var/lib/bazaar-secrets/jwt-ed25519.pub.pem"
        "BAZAAR_SMTP_PASSWORD:/run/secrets/bazaar/smtp-password"
        "BAZAAR_STRIPE_SECRET_KEY:/run/secrets/bazaar/stripe-secret-key"
        "BAZAAR_STRIPE_WEBHOOK_SECRET:/run/secrets/bazaar/stripe-webhook-secret"
        "orders.nk:/var/lib/bazaar-nats/orders.nk"
      ];

    # The closed bus: the credentials and the server configuration are
    # written before NATS starts, the server runs with them, and each unit
    # loads only the seed of the identity it runs.
    "one-box.closed-bus" =
      let
        setup = serviceConfig oneBox "bazaar-nats-setup";
        seeds = name: lib.filter (c: hasInfix ".nk:" c) (serviceConfig oneBox name).LoadCredential;
      in
      expect
        {
          setup = hasInfix "/bin/bazaar nats-setup --out /var/lib/bazaar-nats --base-config " setup.ExecStart;
          before = (unit oneBox "bazaar-nats-setup").requiredBy;
          server = (serviceConfig oneBox "nats").ExecStart;
          catalog = seeds "bazaar-catalog@";
          edge = seeds "bazaar-edge@";
          retrain = seeds "bazaar-retrain";
          migrate = seeds "bazaar-migrate";
        }
        {
          setup = true;
          before = [ "nats.service" ];
          server = "${pkgs.nats-server}/bin/nats-server -c /var/lib/bazaar-nats/nats-server.conf";
          catalog = [ "catalog.nk:/var/lib/bazaar-nats/catalog.nk" ];
          edge = [ "edge.nk:/var/lib/bazaar-nats/edge.nk" ];
          retrain = [ "operator.nk:/var/lib/bazaar-nats/operator.nk" ];
          migrate = [ ];
        };

    # The configuration nats-setup adds the users to is the whole of the
    # local server's settings, whatever nixpkgs puts on its command line.
    "helpers.nats-server-settings" = expect
      (helpers.natsServerSettings {
        settings = { host = "127.0.0.1"; };
        serverName = "box1";
        port = 4222;
        jetstream = true;
        dataDir = "/var/lib/nats";
      })
      { host = "127.0.0.1"; server_name = "box1"; port = 4222; jetstream = { store_dir = "/var/lib/nats"; }; };

    # TLS for clients and routes when certificates are given; the units
    # then require TLS with the CA, loaded as a credential.
    "options.nats-tls" =
      let
        config = store {
          services.bazaar.nats.tls = {
            certFile = "/var/lib/nats-tls/server.pem";
            keyFile = "/var/lib/nats-tls/server-key.pem";
            caFile = "/var/lib/nats-tls/ca.pem";
          };
          services.bazaar.nats.cluster = { enable = true; routes = [ "nats://10.0.0.1:6222" ]; };
        };
        tls = { cert_file = "/var/lib/nats-tls/server.pem"; key_file = "/var/lib/nats-tls/server-key.pem"; ca_file = "/var/lib/nats-tls/ca.pem"; };
      in
      expect
        {
          client = config.services.nats.settings.tls;
          routes = config.services.nats.settings.cluster.tls;
          env = lib.elem "BAZAAR_NATS_CA_FILE=%d/nats-ca.pem" (serviceConfig config "bazaar-orders@").Environment;
          ca = lib.elem "nats-ca.pem:/var/lib/nats-tls/ca.pem" (serviceConfig config "bazaar-orders@").LoadCredential;
        }
        { client = tls; routes = tls; env = true; ca = true; };

    "rejects.nats-cert-without-key" = rejects "set certFile and keyFile together"
      (store { services.bazaar.nats.tls.certFile = "/var/lib/nats-tls/server.pem"; });

    "rejects.local-nats-without-credentials" = rejects "would take anyone's connection"
      (store { services.bazaar.nats.credentialsDir = null; });

    "all-in-one.no-bus-setup" = expect
      {
        units = lib.elem "bazaar-nats-setup" (bazaarUnits allInOne);
        seeds = lib.any (hasInfix ".nk:") ((serviceConfig allInOne "bazaar").LoadCredential or [ ]);
      }
      { units = false; seeds = false; };

    "one-box.edge-has-no-database-password" = holds
      (!lib.any (hasPrefix "BAZAAR_DATABASE_PASSWORD:") (serviceConfig oneBox "bazaar-edge@").LoadCredential)
      "the edge got the database password";

    "one-box.no-secret-in-store" = holds
      (lib.all helpers.isSafeSecretPath (secretPaths oneBox)
        && helpers.leakySettings oneBox.services.bazaar.settings == [ ]
        && lib.all (u: lib.all (n: !helpers.isSecretName n) (builtins.attrNames u.environment)) (builtins.attrValues (services oneBox)))
      "a credential or environment file is in the store, or a secret is in a unit's environment: ${show (secretPaths oneBox)}";

    "one-box.nodes-after-migrate" = expect
      (map (name: lib.elem "bazaar-migrate.service" (unit oneBox name).after) (everyNode ++ [ "bazaar-edge@" ]))
      (map (_: true) everyNode ++ [ false ]);

    "one-box.migrate-oneshot" = expect
      (builtins.intersectAttrs { Type = 1; RemainAfterExit = 1; Restart = 1; } (serviceConfig oneBox "bazaar-migrate"))
      { Type = "oneshot"; RemainAfterExit = true; Restart = "on-failure"; };

    "one-box.unserved-domains-off" = expect
      {
        enabled = map (domain: oneBox.services.bazaar.nodes.${domain}.enable) helpers.domains;
        retrain = oneBox.services.bazaar.recommender.retrain.enable;
        timers = builtins.attrNames oneBox.systemd.timers;
      }
      {
        enabled = map helpers.isServed helpers.domains;
        retrain = true;
        timers = [ "bazaar-retrain" ];
      };

    "one-box.local-nats" = expect
      {
        inherit (oneBox.services.nats) enable jetstream port;
        host = oneBox.services.nats.settings.host;
        clustered = oneBox.services.nats.settings ? cluster;
      }
      { enable = true; jetstream = true; port = 4222; host = "127.0.0.1"; clustered = false; };

    "one-box.local-surrealdb" = expect
      {
        inherit (oneBox.services.surrealdb) enable host port dbPath;
        env = (serviceConfig oneBox "surrealdb").EnvironmentFile;
        requires = (unit oneBox "surrealdb").requires;
      }
      {
        enable = true;
        host = "127.0.0.1";
        port = 8000;
        dbPath = null;
        env = [ "/var/lib/bazaar-secrets/surrealdb.env" ];
        requires = [ "bazaar-secrets.service" ];
      };

    "one-box.firewall-closed" = expect oneBox.networking.firewall.allowedTCPPorts [ 80 443 ];

    "one-box.bazaar-ctl" = holds
      (lib.any (p: p.name or "" == "bazaar-ctl" && hasInfix "systemd-run" p.text) oneBox.environment.systemPackages)
      "bazaar-ctl is not in environment.systemPackages";

    # ---- all in one (examples/all-in-one.nix) -------------------------------------
    "all-in-one.clean" = clean allInOne;

    "all-in-one.one-unit" = expect
      { units = bazaarUnits allInOne; wants = wants allInOne; }
      { units = [ "bazaar" ]; wants = [ "bazaar.service" ]; };

    "all-in-one.exec-start" = expect
      (serviceConfig allInOne "bazaar").ExecStart
      "${start} serve --port 8080";

    "all-in-one.embedded-storage" = expect
      {
        database = (unit allInOne "bazaar").environment.BAZAAR_DATABASE_URL or null;
        nats = (unit allInOne "bazaar").environment.BAZAAR_NATS_URL or null;
        natsServerOnPath = lib.elem pkgs.nats-server (unit allInOne "bazaar").path;
        natsService = allInOne.services.nats.enable;
        surrealService = allInOne.services.surrealdb.enable;
        environmentFile = (serviceConfig allInOne "bazaar").EnvironmentFile;
        dataDir = (unit allInOne "bazaar").environment.BAZAAR_DATA_DIR;
      }
      {
        database = null;
        nats = null;
        natsServerOnPath = true;
        natsService = false;
        surrealService = false;
        environmentFile = [ "/run/secrets/bazaar.env" ];
        dataDir = "/var/lib/bazaar";
      };

    "all-in-one.seed" = expect
      (serviceConfig (evalBazaar [ (examples + "/all-in-one.nix") { services.bazaar.allInOne.seed = true; } ]) "bazaar").ExecStart
      "${start} serve --port 8080 --demo-data";

    # ---- three boxes (examples/three-box/) ------------------------------------
    "three-box.clean" = holds
      (lib.all (c: failures c == [ ] && c.warnings == [ ]) [ box1 box2 box3 ])
      "failed assertions: ${show (map failures [ box1 box2 box3 ])}";

    "three-box.box1-units" = expect (wants box1) (lib.sort (a: b: a < b) ([
      "bazaar-edge@8080.service"
      "bazaar-migrate.service"
      "bazaar-secrets.service"
    ] ++ map (d: "bazaar-${d}@1.service") helpers.servedDomains));

    "three-box.box2-no-jobs" = expect
      {
        migrate = (services box2) ? bazaar-migrate;
        retrain = box2.systemd.timers ? bazaar-retrain;
        edge = (services box2) ? "bazaar-edge@";
        nodeAfterMigrate = lib.elem "bazaar-migrate.service" (unit box2 "bazaar-orders@").after;
      }
      { migrate = false; retrain = false; edge = true; nodeAfterMigrate = false; };

    "three-box.box3-workers-only" = expect (wants box3) (lib.sort (a: b: a < b) ([
      "bazaar-orders@2.service"
      "bazaar-secrets.service"
    ] ++ map (d: "bazaar-${d}@1.service") helpers.servedDomains));

    "three-box.nats-cluster" = expect
      {
        inherit (box2.services.nats.settings) host cluster;
        inherit (box2.services.nats) serverName;
        url = (unit box2 "bazaar-catalog@").environment.BAZAAR_NATS_URL;
      }
      {
        host = "0.0.0.0";
        cluster = {
          name = "bazaar";
          listen = "0.0.0.0:6222";
          routes = [ "nats://10.0.0.1:6222" "nats://10.0.0.2:6222" "nats://10.0.0.3:6222" ];
        };
        serverName = "bazaar2";
        url = "nats://10.0.0.1:4222,nats://10.0.0.2:4222,nats://10.0.0.3:4222";
      };

    "three-box.surrealdb-on-tikv" = expect
      {
        inherit (box3.services.surrealdb) dbPath;
        database = (unit box3 "bazaar-orders@").environment.BAZAAR_DATABASE_URL;
        after = lib.elem "podman-tikv.service" (unit box3 "surrealdb").after;
      }
      { dbPath = "tikv://10.0.0.3:2379"; database = "ws://127.0.0.1:8000"; after = true; };

    "three-box.shared-keys" = expect
      {
        auth = lib.sort (a: b: a < b) (lib.filter (hasPrefix "BAZAAR_JWT") (serviceConfig box1 "bazaar-auth@").LoadCredential);
        database = lib.filter (hasPrefix "BAZAAR_DATABASE_PASSWORD") (serviceConfig box1 "bazaar-auth@").LoadCredential;
      }
      {
        auth = [
          "BAZAAR_JWT_PRIVATE_KEY_FILE:/run/secrets/bazaar/jwt-ed25519.pem"
          "BAZAAR_JWT_PUBLIC_KEY_FILE:/run/secrets/bazaar/jwt-ed25519.pub.pem"
        ];
        database = [ "BAZAAR_DATABASE_PASSWORD:/run/secrets/bazaar/surrealdb-password" ];
      };

    "three-box.no-secret-in-store" = holds
      (lib.all (c: lib.all helpers.isSafeSecretPath (secretPaths c)) [ box1 box2 box3 ])
      "a credential or environment file is in the store";

    "three-box.firewall" = expect
      {
        public = box1.networking.firewall.allowedTCPPorts;
        private = box1.networking.firewall.interfaces.wg0.allowedTCPPorts;
      }
      { public = [ 80 443 ]; private = [ 4222 6222 2379 2380 20160 ]; };

    # ---- flake.nix -----------------------------------------------------------------
    "flake.outputs" = expect
      {
        packages = builtins.attrNames flake.packages.${x86};
        checks = builtins.attrNames flake.checks.${x86};
        armChecks = builtins.attrNames flake.checks.aarch64-linux;
        devShells = builtins.attrNames flake.devShells.${x86};
        apps = flake.apps.${x86}.default.program;
        modules = builtins.attrNames flake.nixosModules;
        overlay = (flake.overlays.default (inputs.pkgsFor x86) { }).bazaar.name;
      }
      {
        packages = [ "bazaar" "default" "oci-image" ];
        checks = [ "bazaar" "clippy" "fmt" "module-eval" "nix-lint" "tests" "vm-one-box" ];
        armChecks = [ "bazaar" "clippy" "fmt" "module-eval" "nix-lint" "tests" ];
        devShells = [ "default" ];
        apps = "/nix/store/00000000000000000000000000000000-bazaar-dev/bin/bazaar-dev";
        modules = [ "bazaar" "default" ];
        overlay = "bazaar";
      };

    "flake.package" = expect
      {
        inherit (flake.packages.${x86}.default.args) pname version cargoExtraArgs doCheck;
        depsShared = flake.packages.${x86}.default.args.cargoArtifacts.name;
        testsShareDeps = flake.checks.${x86}.tests.args.cargoArtifacts.name;
        clippyShareDeps = flake.checks.${x86}.clippy.args.cargoArtifacts.name;
        mainProgram = flake.packages.${x86}.default.args.meta.mainProgram;
      }
      {
        pname = "bazaar";
        version = (lib.importTOML ../../Cargo.toml).workspace.package.version;
        cargoExtraArgs = "--locked -p bazaar";
        doCheck = false;
        depsShared = "bazaar-deps";
        testsShareDeps = "bazaar-deps";
        clippyShareDeps = "bazaar-deps";
        mainProgram = "bazaar";
      };

    "flake.test-servers-and-dev-shell" = expect
      {
        tests = map (p: p.name) flake.checks.${x86}.tests.args.nativeBuildInputs;
        shell = map (p: p.name) flake.devShells.${x86}.default.args.packages;
        chrome = flake.devShells.${x86}.default.args.CHROME_BIN;
      }
      {
        tests = [ "cmake" "perl" "nats-server-2.12.0" "python3-env" "chromium" "chromedriver" ];
        shell = [ "nats-server-2.12.0" "python3-env" "chromium" "chromedriver" "rust-analyzer" "natscli" "surrealdb-3.0.0" "mold" "nixpkgs-fmt" "deadnix" ];
        chrome = "/nix/store/00000000000000000000000000000000-chromium/bin/chromium";
      };

    "flake.oci-image" = expect
      {
        inherit (image) name tag;
        contents = map (p: p.name) image.contents;
        users = (lib.elemAt image.contents 3).args;
        inherit (image.config) Entrypoint Cmd User WorkingDir ExposedPorts Volumes;
        env = image.config.Env;
        ownsDirs = lib.all (line: hasInfix line image.fakeRootCommands) [
          "mkdir -p ./var/lib/bazaar ./var/lib/bazaar-nats tmp"
          "chown 10001:10001 ./var/lib/bazaar ./var/lib/bazaar-nats"
          "chmod 1777 tmp"
        ];
      }
      {
        name = "bazaar";
        tag = version;
        contents = [ "bazaar" "nats-server-2.12.0" "docker-ca-certificates" "fake-nss" ];
        users = {
          extraPasswdLines = [ "bazaar:x:10001:10001:Bazaar:/var/lib/bazaar:/sbin/nologin" ];
          extraGroupLines = [ "bazaar:x:10001:" ];
        };
        Entrypoint = [ "${flake.packages.${x86}.bazaar}/bin/bazaar" ];
        Cmd = [ "serve" ];
        User = "10001:10001";
        WorkingDir = "/var/lib/bazaar";
        ExposedPorts = { "8080/tcp" = { }; "9464/tcp" = { }; };
        Volumes = { "/var/lib/bazaar" = { }; };
        env = [
          "PATH=/bin"
          "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"
          "BAZAAR_DATA_DIR=/var/lib/bazaar"
          "BAZAAR_HTTP_ADDR=0.0.0.0:8080"
          "BAZAAR_METRICS_ADDR=0.0.0.0:9464"
          "BAZAAR_LOG_FORMAT=json"
          "RUST_LOG=info"
        ];
        ownsDirs = true;
      };

    # ---- docs/compose/compose.yaml -------------------------------------------------
    # One service per domain of the topology, named after it, running
    # `bazaar node <domain>`, in the topology's order.
    "compose.a-service-per-domain" = expect
      (lib.filter (s: s.command != null && builtins.head s.command == "node") composeServices)
      (map (domain: { name = domain; command = [ "node" domain ]; }) helpers.domains);

    "compose.services" = expect (map (s: s.name) composeServices)
      ([ "nats-setup" "secrets" "migrate" "nats-1" "nats-2" "nats-3" "surrealdb" "edge-1" "edge-2" ]
        ++ helpers.domains ++ [ "ctl" ]);

    "compose.commands" = expect
      (map (name: (composeService name).command) [ "nats-setup" "migrate" "edge-1" "nats-1" "nats-2" "nats-3" ])
      [
        [ "nats-setup" "--out" "/var/lib/bazaar-nats" "--base-config" "/etc/bazaar/nats-server.json" ]
        [ "migrate" ]
        [ "edge" ]
        [ "--config" "/etc/nats/nats-server.conf" "--name" "nats-1" ]
        [ "--config" "/etc/nats/nats-server.conf" "--name" "nats-2" ]
        [ "--config" "/etc/nats/nats-server.conf" "--name" "nats-3" ]
      ];

    # The image it runs is the one the flake builds, on the image's ports.
    "compose.image-and-ports" = holds
      (lib.elem "  image: \${BAZAAR_IMAGE:-bazaar:${image.tag}}" composeLines
        && lib.elem "      - \"8081:8080\"" composeLines
        && lib.elem "      - \"8082:8080\"" composeLines
        && lib.elem "  BAZAAR_JETSTREAM_REPLICAS: \"3\"" composeLines
        # The credentials and keys belong to the image's user.
        && lib.elem "        chown -R ${image.config.User} /bus" composeLines
        && lib.elem "        chown -R ${image.config.User} /keys" composeLines)
      "compose.yaml runs another image (bazaar:${image.tag}), other ports, other replicas or another user than ${image.config.User}";

    # The servers' base configuration: JetStream, and routes to all three.
    "compose.nats-cluster" = expect natsBase
      {
        port = 4222;
        http_port = 8222;
        jetstream.store_dir = "/data";
        cluster = {
          name = "bazaar";
          port = 6222;
          routes = map (n: "nats://nats-${toString n}:6222") [ 1 2 3 ];
        };
      };

    "flake.module-sets-package" = expect
      (lib.evalModules {
        modules = [
          ./stubs.nix
          { _module.args.pkgs = inputs.pkgsFor x86; }
          flake.nixosModules.default
        ];
      }).config.services.bazaar.package.name
      "bazaar";

    "flake.vm-test-machines" = holds
      (builtins.attrNames vmTest.nodes == [ "store" "tiny" ]
        && lib.all (name: failures (vmMachine name).config == [ ]) [ "store" "tiny" ]
        && (vmMachine "store").config.systemd.targets.bazaar.wants != [ ]
        && (vmMachine "tiny").config.systemd.services ? bazaar
        && (vmMachine "store").config.services.bazaar.settings.BAZAAR_MAILBOX_DIR == "/var/lib/bazaar/mailbox"
        && lib.all (route: lib.hasInfix route vmTest.testScript) [
        "/api/register/{kind}"
        "/api/register/verify"
        "/api/login"
        "/api/categories"
        "/api/shops"
        "/api/seller/products"
        "/api/cart/items"
        "/api/checkout"
        "Idempotency-Key"
        "/api/seller/orders/{order_id}/status"
        "/api/orders/{order_id}"
        "bazaar-ctl admin create"
        "MAILBOX = \"/var/lib/bazaar/mailbox\""
      ])
      "VM test machines: ${show (map (name: failures (vmMachine name).config) [ "store" "tiny" ])}";

    # ---- options that change the units ------------------------------------------
    "options.open-firewall" = expect
      (store {
        services.bazaar = {
          openFirewall = true;
          edge = { address = "0.0.0.0"; instances = 3; };
        };
      }).networking.firewall.allowedTCPPorts
      [ 8080 8081 8082 ];

    "options.low-port" = expect
      (builtins.intersectAttrs { AmbientCapabilities = 1; CapabilityBoundingSet = 1; PrivateUsers = 1; }
        (serviceConfig (store { services.bazaar.edge = { address = "0.0.0.0"; port = 80; }; }) "bazaar-edge@"))
      { AmbientCapabilities = [ "CAP_NET_BIND_SERVICE" ]; CapabilityBoundingSet = [ "CAP_NET_BIND_SERVICE" ]; PrivateUsers = false; };

    "options.settings-override" = expect
      (builtins.intersectAttrs { RUST_LOG = 1; BAZAAR_CORS_ORIGINS = 1; BAZAAR_REQUEST_TIMEOUT_MS = 1; BAZAAR_LOG_FORMAT = 1; }
        (unit
          (store {
            services.bazaar = {
              corsOrigins = [ "https://a.example" "https://b.example" ];
              settings = { RUST_LOG = "debug"; BAZAAR_REQUEST_TIMEOUT_MS = 5000; BAZAAR_LOG_FORMAT = null; };
            };
          }) "bazaar-sellers@").environment)
      { RUST_LOG = "debug"; BAZAAR_CORS_ORIGINS = "https://a.example,https://b.example"; BAZAAR_REQUEST_TIMEOUT_MS = "5000"; };

    "options.extra-credentials" = holds
      (lib.elem "BAZAAR_SOME_API_TOKEN:/run/secrets/token"
        (serviceConfig (store { services.bazaar.credentials.BAZAAR_SOME_API_TOKEN = "/run/secrets/token"; }) "bazaar-mail@").LoadCredential)
      "the credential is not loaded";

    "options.nodes-off" = expect
      (bazaarUnits (store {
        services.bazaar = {
          edge.enable = false;
          nodes = lib.genAttrs helpers.domains (_: { enable = false; }) // { mail.enable = true; };
          recommender.retrain.enable = false;
        };
      }))
      [ "bazaar-mail@" "bazaar-migrate" "bazaar-nats-setup" "bazaar-secrets" ];

    # The timer runs exactly `bazaar retrain`.
    "options.retrain-timer" =
      let
        config = store {
          services.bazaar.nodes.recommend.enable = true;
          services.bazaar.recommender.retrain.schedule = "*-*-* 03:00:00";
        };
      in
      expect
        {
          inherit (config.systemd.timers.bazaar-retrain) wantedBy;
          inherit (config.systemd.timers.bazaar-retrain.timerConfig) OnCalendar Persistent;
          restart = (serviceConfig config "bazaar-retrain").Restart;
          exec = (serviceConfig config "bazaar-retrain").ExecStart;
        }
        { wantedBy = [ "timers.target" ]; OnCalendar = "*-*-* 03:00:00"; Persistent = true; restart = "no"; exec = "${start} retrain"; };

    "options.disabled" = expect
      (bazaarUnits (evalBazaar [{ services.bazaar.nats.local = true; }]))
      [ ];

    "options.warn-loopback-firewall" = holds
      (lib.any (hasInfix "openFirewall opens port 8080") (store { services.bazaar.openFirewall = true; }).warnings)
      "no warning about an open port nobody can reach";

    "options.typed-settings-defaults" = expect
      (builtins.intersectAttrs
        {
          BAZAAR_PLATFORM_FEE_BPS = 1;
          BAZAAR_CHECKOUT_TTL_SECS = 1;
          BAZAAR_RATE_LIMIT_PER_MINUTE = 1;
          BAZAAR_AUTH_RATE_LIMIT_PER_MINUTE = 1;
          BAZAAR_ACCOUNT_RATE_LIMIT_PER_15MIN = 1;
          BAZAAR_TRUST_FORWARDED = 1;
          BAZAAR_COOKIE_SECRET = 1;
          BAZAAR_BODY_LIMIT_BYTES = 1;
          BAZAAR_MAILBOX_DIR = 1;
        }
        (unit oneBox "bazaar-edge@").environment)
      {
        BAZAAR_PLATFORM_FEE_BPS = "1000";
        BAZAAR_CHECKOUT_TTL_SECS = "1800";
        BAZAAR_RATE_LIMIT_PER_MINUTE = "1200";
        BAZAAR_AUTH_RATE_LIMIT_PER_MINUTE = "30";
        BAZAAR_ACCOUNT_RATE_LIMIT_PER_15MIN = "10";
        BAZAAR_TRUST_FORWARDED = "false";
      };

    "options.typed-settings" = expect
      (builtins.intersectAttrs
        {
          BAZAAR_PLATFORM_FEE_BPS = 1;
          BAZAAR_CHECKOUT_TTL_SECS = 1;
          BAZAAR_RATE_LIMIT_PER_MINUTE = 1;
          BAZAAR_AUTH_RATE_LIMIT_PER_MINUTE = 1;
          BAZAAR_ACCOUNT_RATE_LIMIT_PER_15MIN = 1;
          BAZAAR_TRUST_FORWARDED = 1;
        }
        (unit
          (store {
            services.bazaar = {
              orders = { platformFeeBps = 250; checkoutTtlSecs = 600; };
              edge = {
                trustForwarded = true;
                rateLimit = { perMinute = 600; authPerMinute = 12; accountPer15Min = 5; };
              };
            };
          }) "bazaar-orders@").environment)
      {
        BAZAAR_PLATFORM_FEE_BPS = "250";
        BAZAAR_CHECKOUT_TTL_SECS = "600";
        BAZAAR_RATE_LIMIT_PER_MINUTE = "600";
        BAZAAR_AUTH_RATE_LIMIT_PER_MINUTE = "12";
        BAZAAR_ACCOUNT_RATE_LIMIT_PER_15MIN = "5";
        BAZAAR_TRUST_FORWARDED = "true";
      };

    # The rest of what the binary reads, through settings: declared ones are
    # type-checked, unknown ones flow through, a value in settings wins.
    "options.freeform-settings" = expect
      (builtins.intersectAttrs
        {
          BAZAAR_CATALOG_PURGE_AFTER_SECS = 1;
          BAZAAR_CATALOG_MAINTENANCE_SECS = 1;
          BAZAAR_STRIPE_API_BASE = 1;
          BAZAAR_MAILBOX_DIR = 1;
          BAZAAR_BODY_LIMIT_BYTES = 1;
          BAZAAR_HTTP_TIMEOUT_MS = 1;
          BAZAAR_MAIL_RETRY_BASE_MS = 1;
          BAZAAR_STRIPE_CONNECT_COUNTRY = 1;
          BAZAAR_PLATFORM_FEE_BPS = 1;
        }
        (unit
          (store {
            services.bazaar.orders.platformFeeBps = 250;
            services.bazaar.settings = {
              BAZAAR_CATALOG_PURGE_AFTER_SECS = 7 * 86400;
              BAZAAR_CATALOG_MAINTENANCE_SECS = 30;
              BAZAAR_STRIPE_API_BASE = "http://127.0.0.1:12111";
              BAZAAR_MAILBOX_DIR = "/var/lib/bazaar/mailbox";
              BAZAAR_BODY_LIMIT_BYTES = 4194304;
              BAZAAR_HTTP_TIMEOUT_MS = 60000;
              BAZAAR_MAIL_RETRY_BASE_MS = 500;
              BAZAAR_STRIPE_CONNECT_COUNTRY = "DE";
              BAZAAR_PLATFORM_FEE_BPS = 0;
            };
          }) "bazaar-catalog@").environment)
      {
        BAZAAR_CATALOG_PURGE_AFTER_SECS = "604800";
        BAZAAR_CATALOG_MAINTENANCE_SECS = "30";
        BAZAAR_STRIPE_API_BASE = "http://127.0.0.1:12111";
        BAZAAR_MAILBOX_DIR = "/var/lib/bazaar/mailbox";
        BAZAAR_BODY_LIMIT_BYTES = "4194304";
        BAZAAR_HTTP_TIMEOUT_MS = "60000";
        BAZAAR_MAIL_RETRY_BASE_MS = "500";
        BAZAAR_STRIPE_CONNECT_COUNTRY = "DE";
        BAZAAR_PLATFORM_FEE_BPS = "0";
      };

    # Guest cart cookies: one key for every edge, made on a single box, from a
    # file otherwise; only the edges (and allInOne) get it.
    "one-box.cookie-secret" = expect
      {
        edge = lib.filter (hasPrefix "BAZAAR_COOKIE_SECRET") (serviceConfig oneBox "bazaar-edge@").LoadCredential;
        nodes = lib.any (name: lib.any (hasPrefix "BAZAAR_COOKIE_SECRET") (serviceConfig oneBox name).LoadCredential) (everyNode ++ [ "bazaar-migrate" ]);
      }
      {
        edge = [ "BAZAAR_COOKIE_SECRET:/var/lib/bazaar-secrets/cookie-secret" ];
        nodes = false;
      };

    "options.cookie-secret-file" = expect
      (map
        (config: {
          edge = lib.filter (hasPrefix "BAZAAR_COOKIE_SECRET") (serviceConfig config "bazaar-edge@").LoadCredential;
          made = lib.elem "bazaar-secrets.service" (unit config "bazaar-edge@").after;
        })
        [
          (store { services.bazaar.edge.cookieSecretFile = "/run/secrets/bazaar/cookie-secret"; })
          (store { services.bazaar.environmentFile = "/run/secrets/bazaar.env"; })
        ])
      [
        # bazaar-secrets still makes the JWT keys and the database password.
        { edge = [ "BAZAAR_COOKIE_SECRET:/run/secrets/bazaar/cookie-secret" ]; made = true; }
        { edge = [ ]; made = true; }
      ];

    "all-in-one.cookie-secret" = expect
      (map
        (config: {
          units = bazaarUnits config;
          cookie = lib.filter (hasPrefix "BAZAAR_COOKIE_SECRET") (serviceConfig config "bazaar").LoadCredential;
        })
        [
          (evalBazaar [{ services.bazaar = { enable = true; allInOne.enable = true; }; }])
          allInOne
        ])
      [
        { units = [ "bazaar" "bazaar-secrets" ]; cookie = [ "BAZAAR_COOKIE_SECRET:/var/lib/bazaar-secrets/cookie-secret" ]; }
        # The example's environment file may carry BAZAAR_COOKIE_SECRET.
        { units = [ "bazaar" ]; cookie = [ ]; }
      ];

    "options.warn-boxes-without-cookie-secret" = holds
      (lib.any (hasInfix "edges on several boxes must sign guest cart cookies with one key")
        (evalBazaar [{
          services.bazaar = {
            enable = true;
            nats.url = "nats://10.0.0.1:4222";
            surrealdb.url = "ws://10.0.0.1:8000";
            jwt = { privateKeyFile = "/run/secrets/jwt.pem"; publicKeyFile = "/run/secrets/jwt.pub.pem"; };
            surrealdb.passwordFile = "/run/secrets/db";
          };
        }]).warnings)
      "no warning about edges on several boxes without a shared cookie key";

    "options.warn-trust-forwarded-open" = holds
      (lib.any (hasInfix "edge.trustForwarded takes the client's address from X-Forwarded-For")
        (store { services.bazaar = { openFirewall = true; edge = { address = "0.0.0.0"; trustForwarded = true; }; }; }).warnings)
      "no warning about a forgeable X-Forwarded-For";

    # ---- settings that must fail, with the assertion's message ------------------
    "rejects.secret-in-settings" = rejects
      "settings.BAZAAR_STRIPE_SECRET_KEY would put a secret in the world-readable Nix store"
      (store { services.bazaar.settings.BAZAAR_STRIPE_SECRET_KEY = "sk_live_123"; });

    "rejects.password-in-nats-url" = rejects
      "settings.BAZAAR_NATS_URL would put a secret"
      (store { services.bazaar.nats.url = "nats://app:hunter2@10.0.0.1:4222"; });

    "rejects.password-in-smtp-url" = rejects
      "mail.smtpUrl carries a password"
      (store { services.bazaar.mail.smtpUrl = "smtps://shop:hunter2@mail.example.com:465"; });

    "rejects.secret-file-in-store" = rejects
      "stripe.secretKeyFile must be an absolute path outside the Nix store"
      (store { services.bazaar.stripe.secretKeyFile = "${builtins.storeDir}/00000000000000000000000000000000-stripe-key"; });

    "rejects.environment-file-in-store" = rejects
      "environmentFile must be an absolute path outside the Nix store"
      (store { services.bazaar.environmentFile = "${builtins.storeDir}/00000000000000000000000000000000-bazaar.env"; });

    "rejects.nix-path-as-secret-file" = throws
      (store { services.bazaar.stripe.secretKeyFile = ./stubs.nix; }).systemd.services."bazaar-orders@".serviceConfig.LoadCredential;

    "rejects.all-in-one-with-copies" = rejects
      "cannot run several copies of\ncatalog"
      (evalBazaar [ (examples + "/all-in-one.nix") { services.bazaar.nodes.catalog.instances = 3; } ]);

    "rejects.all-in-one-with-edges" = rejects
      "edge.instances must be 1"
      (evalBazaar [ (examples + "/all-in-one.nix") { services.bazaar.edge.instances = 2; } ]);

    "rejects.embedded-database-for-nodes" = rejects
      "separate node processes need a SurrealDB server"
      (evalBazaar [{ services.bazaar = { enable = true; nats.local = true; }; }]);

    "rejects.surrealkv-url-for-nodes" = rejects
      "\"surrealkv:///var/lib/bazaar/db\", which only one process can open"
      (evalBazaar [{ services.bazaar = { enable = true; nats.local = true; surrealdb.url = "surrealkv:///var/lib/bazaar/db"; }; }]);

    "rejects.no-nats" = rejects
      "the nodes and edges need NATS"
      (evalBazaar [{ services.bazaar = { enable = true; surrealdb.local = true; }; }]);

    "rejects.data-dir-outside-var-lib" = rejects
      "dataDir = \"/srv/bazaar\" must lie under /var/lib/"
      (store { services.bazaar.dataDir = "/srv/bazaar"; });

    "rejects.boxes-without-shared-keys" = rejects
      "with several boxes every node must verify tokens with the same key"
      (evalBazaar [{
        services.bazaar = {
          enable = true;
          nats.url = "nats://10.0.0.1:4222";
          surrealdb.url = "ws://10.0.0.1:8000";
        };
      }]);

    "rejects.auth-without-private-key" = rejects
      "the auth node signs tokens"
      (evalBazaar [{
        services.bazaar = {
          enable = true;
          nats.url = "nats://10.0.0.1:4222";
          surrealdb.url = "ws://10.0.0.1:8000";
          jwt.publicKeyFile = "/run/secrets/jwt.pub.pem";
        };
      }]);

    "rejects.private-key-without-public" = rejects
      "jwt.privateKeyFile is set, so set services.bazaar.jwt.publicKeyFile too"
      (store { services.bazaar.jwt.privateKeyFile = "/run/secrets/jwt.pem"; });

    "rejects.shared-surrealdb-without-password" = rejects
      "surrealdb.passwordFile must be set"
      (store { services.bazaar.surrealdb.storage = "tikv://10.0.0.1:2379"; services.bazaar.jwt = { privateKeyFile = "/run/k"; publicKeyFile = "/run/k.pub"; }; });

    "rejects.cluster-without-routes" = rejects
      "nats.cluster.routes must list the cluster URLs"
      (store { services.bazaar.nats.cluster.enable = true; });

    "rejects.cluster-without-local-nats" = rejects
      "nats.cluster.enable clusters the local NATS server"
      (store { services.bazaar.nats = { local = lib.mkForce false; url = "nats://10.0.0.1:4222"; cluster = { enable = true; routes = [ "nats://10.0.0.1:6222" ]; }; }; });

    "rejects.http-addr-in-settings" = rejects
      "settings.BAZAAR_HTTP_ADDR is set per edge copy"
      (store { services.bazaar.settings.BAZAAR_HTTP_ADDR = "0.0.0.0:80"; });

    "rejects.edge-ports-past-65535" = rejects
      "run past port 65535"
      (store { services.bazaar.edge = { port = 65535; instances = 2; }; });

    # Every domain is served now; an unserved one (a domain the contract
    # names before the binary has its node) is refused at build time.
    "every-domain-is-served" = expect helpers.servedDomains helpers.domains;

    "rejects.cookie-secret-in-settings" = rejects
      "settings.BAZAAR_COOKIE_SECRET would put a secret in the world-readable Nix store"
      (store { services.bazaar.settings.BAZAAR_COOKIE_SECRET = "0123456789abcdef"; });

    "rejects.cookie-secret-file-in-store" = rejects
      "edge.cookieSecretFile must be an absolute path outside the Nix store"
      (store { services.bazaar.edge.cookieSecretFile = "${builtins.storeDir}/00000000000000000000000000000000-cookie"; });

    "rejects.port-in-settings" = rejects
      "settings.BAZAAR_PORT is given on the command line from services.bazaar.edge.port"
      (evalBazaar [ (examples + "/all-in-one.nix") { services.bazaar.settings.BAZAAR_PORT = 9090; } ]);

    "rejects.mailbox-outside-data-dir" = rejects
      "settings.BAZAAR_MAILBOX_DIR = \"/srv/mail\" must lie under dataDir (/var/lib/bazaar)"
      (store { services.bazaar.settings.BAZAAR_MAILBOX_DIR = "/srv/mail"; });

    "rejects.mailbox-beside-data-dir" = rejects
      "must lie under dataDir"
      (store { services.bazaar.settings.BAZAAR_MAILBOX_DIR = "/var/lib/bazaar-mail"; });

    "rejects.platform-fee-over-100-percent" = throws
      (store { services.bazaar.orders.platformFeeBps = 10001; }).systemd.services."bazaar-orders@".environment;

    "rejects.typed-setting-of-wrong-type" = throws
      (store { services.bazaar.settings.BAZAAR_BODY_LIMIT_BYTES = "1MB"; }).systemd.services."bazaar-edge@".environment;

    "rejects.zero-rate-limit" = throws
      (store { services.bazaar.edge.rateLimit.authPerMinute = 0; }).systemd.services."bazaar-edge@".environment;

    "metrics.one-box-scraped" =
      let
        config = store {
          services.bazaar = {
            metrics.enable = true;
            edge.instances = 2;
            nodes.catalog.instances = 2;
          };
          services.prometheus.enable = true;
        };
        env = name: (unit config name).serviceConfig.Environment;
        targets = (builtins.head config.services.prometheus.scrapeConfigs).static_configs;
      in
      expect
        {
          edge = lib.filter (hasPrefix "BAZAAR_UNIT_") (env "bazaar-edge@");
          catalog = lib.filter (hasPrefix "BAZAAR_UNIT_METRICS_PORT") (env "bazaar-catalog@");
          search = lib.filter (hasPrefix "BAZAAR_UNIT_METRICS_PORT") (env "bazaar-search@");
          inherit targets;
          clean = failures config;
        }
        {
          # Edges 9464-9465, admin 9466, auth 9467, mail 9468, catalog 9469-9470, search 9471 …
          edge = [ "BAZAAR_UNIT_METRICS_HOST=127.0.0.1" "BAZAAR_UNIT_METRICS_PORT=9464" "BAZAAR_UNIT_INSTANCE=%i" "BAZAAR_UNIT_FIRST_INSTANCE=8080" ];
          catalog = [ "BAZAAR_UNIT_METRICS_PORT=9469" ];
          search = [ "BAZAAR_UNIT_METRICS_PORT=9471" ];
          targets = [{ targets = map (p: "127.0.0.1:${toString p}") (lib.range 9464 9477); }];
          clean = [ ];
        };

    "metrics.all-in-one-one-address" =
      let config = evalBazaar [ (examples + "/all-in-one.nix") { services.bazaar.metrics.enable = true; services.prometheus.enable = true; } ];
      in
      expect
        {
          env = lib.filter (hasPrefix "BAZAAR_METRICS_ADDR") (serviceConfig config "bazaar").Environment;
          targets = (builtins.head config.services.prometheus.scrapeConfigs).static_configs;
        }
        {
          env = [ "BAZAAR_METRICS_ADDR=127.0.0.1:9464" ];
          targets = [{ targets = [ "127.0.0.1:9464" ]; }];
        };

    "metrics.off-by-default" =
      let config = store { services.prometheus.enable = true; };
      in expect config.services.prometheus.scrapeConfigs [ ];

    "rejects.metrics-ports-on-edge-ports" = rejects
      "overlap the edges' ports"
      (store { services.bazaar = { metrics = { enable = true; port = 8079; }; }; });

    "rejects.unknown-node" = throws
      (store { services.bazaar.nodes.payments.enable = true; }).systemd.targets.bazaar.wants;

    "rejects.zero-instances" = throws
      (store { services.bazaar.nodes.catalog.instances = 0; }).systemd.targets.bazaar.wants;
  };
}
