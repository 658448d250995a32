# services.bazaar: Bazaar, the multi-vendor marketplace, on one NixOS box or many.
#
# The one binary runs as several kinds of systemd units:
#   bazaar-edge@<port>.service      HTTP edges (`bazaar edge`), one per port
#   bazaar-<domain>@<n>.service     the nodes (`bazaar node <domain>`), n copies each
#   bazaar-migrate.service          `bazaar migrate`, before the nodes start
#   bazaar-retrain.timer/.service   `bazaar retrain` on a schedule
#   bazaar-secrets.service          one-box secrets (JWT keys, SurrealDB password, cookie key)
#   bazaar-nats-setup.service       `bazaar nats-setup`: NATS credentials and server config
#   bazaar.service                  allInOne: the whole platform in one process
# all pulled in by bazaar.target. NATS and SurrealDB come from nixpkgs' own
# modules (nats.local, surrealdb.local) or from elsewhere (nats.url, surrealdb.url).
{ config, lib, pkgs, ... }:

let
  inherit (lib)
    concatMap
    filter
    filterAttrs
    genAttrs
    literalExpression
    mapAttrsToList
    mkDefault
    mkEnableOption
    mkIf
    mkMerge
    mkOption
    nameValuePair
    optional
    optionalAttrs
    optionals
    types
    ;

  helpers = import ./lib.nix { inherit lib; };

  cfg = config.services.bazaar;
  opt = "services.bazaar";

  allInOne = cfg.allInOne.enable;

  # The secrets a single box makes for itself live here (root only).
  secretsDir = "/var/lib/bazaar-secrets";

  # Several boxes share one NATS and one database, so they must share their
  # secrets too: nothing may be generated per box then.
  oneBox = cfg.nats.local && !cfg.nats.cluster.enable && cfg.surrealdb.local && cfg.surrealdb.storage == null;

  enabledNodes = filter (domain: cfg.nodes.${domain}.enable) helpers.domains;
  # Enabled, but the binary does not serve them yet (it would exit at start).
  unservedNodes = filter (domain: !helpers.isServed domain) enabledNodes;
  runsNodes = !allInOne && enabledNodes != [ ];
  runsEdge = !allInOne && cfg.edge.enable;
  runsMigrate = !allInOne && cfg.migrate.enable;
  runsRetrain = !allInOne && cfg.recommender.retrain.enable;
  usesDatabase = runsNodes || runsMigrate || runsRetrain;
  runsAnything = allInOne || runsNodes || runsEdge || runsMigrate || runsRetrain;
  servesHttp = allInOne || runsEdge;

  # JWT: the auth node signs with the private key; every node verifies with the
  # public one. allInOne makes its own pair in dataDir unless given one.
  generateJwt = !allInOne && cfg.jwt.privateKeyFile == null && cfg.jwt.publicKeyFile == null && oneBox;
  jwtPrivateKeyFile = if generateJwt then "${secretsDir}/jwt-ed25519.pem" else cfg.jwt.privateKeyFile;
  jwtPublicKeyFile = if generateJwt then "${secretsDir}/jwt-ed25519.pub.pem" else cfg.jwt.publicKeyFile;

  generateDatabasePassword = cfg.surrealdb.local && cfg.surrealdb.passwordFile == null && oneBox;
  databasePasswordFile =
    if generateDatabasePassword then "${secretsDir}/surrealdb-password" else cfg.surrealdb.passwordFile;

  # Guest cart cookies: every edge of the site must sign them with one key
  # (without one, each process makes its own and carts end at a restart). A
  # single box makes it unless it comes from a file, a credential or, maybe,
  # the environment file.
  cookieSecretGiven = cfg.edge.cookieSecretFile != null || cfg.credentials ? BAZAAR_COOKIE_SECRET || cfg.environmentFile != null;
  generateCookieSecret = servesHttp && (oneBox || allInOne) && !cookieSecretGiven;
  cookieSecretFile = if generateCookieSecret then "${secretsDir}/cookie-secret" else cfg.edge.cookieSecretFile;

  # bazaar-secrets also writes the local SurrealDB server's root login.
  runsSecrets = (runsAnything && generateJwt) || generateCookieSecret || (cfg.surrealdb.local && databasePasswordFile != null);

  stateDirectory = lib.removePrefix "/var/lib/" cfg.dataDir;

  databaseUrl = cfg.settings.BAZAAR_DATABASE_URL or null;

  environment = { BAZAAR_DATA_DIR = cfg.dataDir; } // helpers.renderEnv cfg.settings;

  startScript = pkgs.writeShellScript "bazaar-start" (helpers.startScript "${cfg.package}/bin/bazaar");

  # Secret files, loaded with LoadCredential= (systemd reads them as root, so
  # they may stay root-only). The start script exports BAZAAR_* names: the
  # content, or the path for *_FILE names.
  credentialsFor = { signing ? false, database ? true, cookie ? false, nats ? [ ] }:
    natsCredentials nats // filterAttrs (_: path: path != null) (
      {
        BAZAAR_SMTP_PASSWORD = cfg.mail.passwordFile;
        BAZAAR_STRIPE_SECRET_KEY = cfg.stripe.secretKeyFile;
        BAZAAR_STRIPE_WEBHOOK_SECRET = cfg.stripe.webhookSecretFile;
        BAZAAR_GOOGLE_CLIENT_SECRET = cfg.google.clientSecretFile;
        BAZAAR_JWT_PUBLIC_KEY_FILE = jwtPublicKeyFile;
      }
      // optionalAttrs database { BAZAAR_DATABASE_PASSWORD = databasePasswordFile; }
      // optionalAttrs signing { BAZAAR_JWT_PRIVATE_KEY_FILE = jwtPrivateKeyFile; }
      // optionalAttrs cookie { BAZAAR_COOKIE_SECRET = cookieSecretFile; }
      // cfg.credentials
    );

  # The closed bus (README, Security): `bazaar nats-setup` writes one nkey
  # seed per identity and the server configuration into nats.credentialsDir
  # (on the box that runs NATS; other boxes get a copy of the directory).
  # Each unit loads the seeds of the identities it runs as credentials and
  # finds them in its credentials directory.
  natsClosed = cfg.nats.credentialsDir != null;
  natsCredentials = identities:
    optionalAttrs natsClosed (lib.listToAttrs (map (id: nameValuePair "${id}.nk" "${cfg.nats.credentialsDir}/${id}.nk") identities))
    // optionalAttrs (identities != [ ] && cfg.nats.tls.caFile != null) { "nats-ca.pem" = cfg.nats.tls.caFile; };
  natsEnvironment =
    optional natsClosed "BAZAAR_NATS_CREDENTIALS_DIR=%d"
    ++ optional (cfg.nats.tls.caFile != null) "BAZAAR_NATS_CA_FILE=%d/nats-ca.pem";

  # The local server's whole configuration, users added by nats-setup: the
  # unit runs `nats-server -c` on the result, whatever nixpkgs' module puts
  # on its command line.
  natsTls = optionalAttrs (cfg.nats.tls.certFile != null) {
    tls = {
      cert_file = cfg.nats.tls.certFile;
      key_file = cfg.nats.tls.keyFile;
    } // optionalAttrs (cfg.nats.tls.caFile != null) { ca_file = cfg.nats.tls.caFile; };
  };
  natsBaseConfig = pkgs.writeText "bazaar-nats-base.json" (builtins.toJSON (helpers.natsServerSettings {
    inherit (config.services.nats) settings serverName port jetstream dataDir;
  }));

  credentialConfig = credentials: {
    LoadCredential = mapAttrsToList (name: path: "${name}:${path}") credentials;
  };

  # The sandbox every bazaar process runs in.
  hardening = {
    DynamicUser = true;
    User = "bazaar";
    Group = "bazaar";
    StateDirectory = stateDirectory;
    StateDirectoryMode = "0700";
    WorkingDirectory = cfg.dataDir;
    EnvironmentFile = optional (cfg.environmentFile != null) cfg.environmentFile;
    UMask = "0077";

    CapabilityBoundingSet = [ "" ];
    DevicePolicy = "closed";
    LockPersonality = true;
    MemoryDenyWriteExecute = true;
    NoNewPrivileges = true;
    PrivateDevices = true;
    PrivateMounts = true;
    PrivateTmp = true;
    PrivateUsers = true;
    ProcSubset = "pid";
    ProtectClock = true;
    ProtectControlGroups = true;
    ProtectHome = true;
    ProtectHostname = true;
    ProtectKernelLogs = true;
    ProtectKernelModules = true;
    ProtectKernelTunables = true;
    ProtectProc = "invisible";
    ProtectSystem = "strict";
    RemoveIPC = true;
    RestrictAddressFamilies = [ "AF_INET" "AF_INET6" "AF_UNIX" ];
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    SystemCallArchitectures = "native";
    SystemCallFilter = [ "@system-service" "~@privileged" ];
  };

  # A privileged port (< 1024) needs one capability, and no user namespace.
  bindService = port: optionalAttrs (port < 1024) {
    AmbientCapabilities = [ "CAP_NET_BIND_SERVICE" ];
    CapabilityBoundingSet = lib.mkForce [ "CAP_NET_BIND_SERVICE" ];
    PrivateUsers = lib.mkForce false;
  };

  backingUnits =
    optional cfg.nats.local "nats.service"
    ++ optional cfg.surrealdb.local "surrealdb.service"
    ++ optional runsSecrets "bazaar-secrets.service";

  # Metrics: one address per unit, edges first, then each node's copies.
  metricsPorts = helpers.metricsPorts {
    inherit (cfg.metrics) port;
    inherit allInOne;
    edges = if runsEdge then cfg.edge.instances else 0;
    nodes = optionals runsNodes (map (domain: { inherit domain; inherit (cfg.nodes.${domain}) instances; }) enabledNodes);
  };
  metricsTargets = map (helpers.hostPort cfg.metrics.address) metricsPorts.all;
  # The start script turns these into BAZAAR_METRICS_ADDR for copy %i of a
  # template unit whose first copy is `first` and serves on `port`.
  metricsEnvironment = { port, first }: optionals cfg.metrics.enable [
    "BAZAAR_UNIT_METRICS_HOST=${if lib.hasInfix ":" cfg.metrics.address then "[${cfg.metrics.address}]" else cfg.metrics.address}"
    "BAZAAR_UNIT_METRICS_PORT=${toString port}"
    "BAZAAR_UNIT_INSTANCE=%i"
    "BAZAAR_UNIT_FIRST_INSTANCE=${toString first}"
  ];

  # What a long-running bazaar unit shares.
  daemon = { description, args, credentials, afterMigrate ? true, extraServiceConfig ? { }, extraEnvironment ? [ ] }: {
    inherit description environment;
    after = [ "network-online.target" ] ++ backingUnits ++ optional (runsMigrate && afterMigrate) "bazaar-migrate.service";
    wants = [ "network-online.target" ] ++ backingUnits;
    partOf = [ "bazaar.target" ];
    path = optional allInOne pkgs.nats-server;
    unitConfig.StartLimitIntervalSec = 0;
    serviceConfig = mkMerge [
      hardening
      (credentialConfig credentials)
      {
        Type = "exec";
        ExecStart = "${startScript} ${args}";
        Restart = "on-failure";
        RestartSec = 5;
        Environment = extraEnvironment;
      }
      extraServiceConfig
    ];
  };

  # A oneshot that runs `bazaar <args>` with the units' environment.
  oneshot = { description, args, restart, nats ? [ ] }: {
    inherit description environment;
    after = [ "network-online.target" ] ++ backingUnits;
    wants = [ "network-online.target" ] ++ backingUnits;
    unitConfig.StartLimitIntervalSec = 0;
    serviceConfig = mkMerge [
      hardening
      (credentialConfig (credentialsFor { inherit nats; }))
      {
        Type = "oneshot";
        ExecStart = "${startScript} ${args}";
        Restart = restart;
        RestartSec = 5;
        Environment = optionals (nats != [ ]) natsEnvironment;
      }
    ];
  };

  nodeUnits = lib.listToAttrs (map
    (domain: nameValuePair "bazaar-${domain}@" (daemon {
      description = "Bazaar ${domain} node %i";
      args = "node ${domain}";
      credentials = credentialsFor { signing = domain == "auth"; nats = [ domain ]; };
      extraEnvironment = natsEnvironment ++ optional (domain == "search")
        "BAZAAR_SEARCH_INDEX_DIR=${helpers.searchIndexDir cfg.dataDir "%i"}"
        ++ metricsEnvironment { port = metricsPorts.nodes.${domain} or cfg.metrics.port; first = 1; };
    }))
    enabledNodes);

  nodeInstances = concatMap
    (domain: map (n: "bazaar-${domain}@${n}.service") (helpers.instanceNames cfg.nodes.${domain}.instances))
    enabledNodes;

  edgePorts = helpers.edgePorts cfg.edge.port cfg.edge.instances;

  edgeUnit = daemon {
    description = "Bazaar HTTP edge on port %i";
    args = "edge";
    credentials = credentialsFor { database = false; cookie = true; nats = [ "edge" ]; };
    afterMigrate = false;
    extraEnvironment = natsEnvironment ++ [ "BAZAAR_HTTP_ADDR=${helpers.hostPort cfg.edge.address "%i"}" ]
      ++ metricsEnvironment { port = cfg.metrics.port; first = cfg.edge.port; };
    extraServiceConfig = bindService cfg.edge.port;
  };

  allInOneUnit = daemon {
    description = "Bazaar, the whole platform in one process";
    # `serve`, not `dev`: no file mailbox on the web, no test payment page.
    args = "serve --port ${toString cfg.edge.port}" + lib.optionalString cfg.allInOne.seed " --demo-data";
    credentials = credentialsFor { signing = true; cookie = true; };
    extraEnvironment = [ "BAZAAR_HTTP_ADDR=${helpers.hostPort cfg.edge.address cfg.edge.port}" ]
      ++ optional cfg.metrics.enable "BAZAAR_METRICS_ADDR=${helpers.hostPort cfg.metrics.address cfg.metrics.port}";
    extraServiceConfig = bindService cfg.edge.port;
  };

  unitNames =
    (if allInOne then [ "bazaar.service" ] else nodeInstances ++ map (port: "bazaar-edge@${toString port}.service") (optionals runsEdge edgePorts))
    ++ optional runsMigrate "bazaar-migrate.service"
    ++ optional runsSecrets "bazaar-secrets.service";

  # bazaar-ctl: run any `bazaar` command (seed, admin create, check-config …)
  # as the units do, with their sandbox, environment and credentials.
  ctlProperties = helpers.runProperties {
    inherit environment;
    serviceConfig = hardening // credentialConfig (credentialsFor { signing = true; nats = optional (!allInOne) "operator"; }) // {
      EnvironmentFile = cfg.environmentFile;
      Environment = optionals (!allInOne) natsEnvironment;
    };
  };
  ctl = pkgs.writeShellScriptBin "bazaar-ctl" ''
    exec ${pkgs.systemd}/bin/systemd-run --quiet --pipe --wait --collect --service-type=exec \
      ${lib.escapeShellArgs ctlProperties} \
      -- ${startScript} "$@"
  '';

  secretFileOptions = {
    "jwt.privateKeyFile" = cfg.jwt.privateKeyFile;
    "jwt.publicKeyFile" = cfg.jwt.publicKeyFile;
    "surrealdb.passwordFile" = cfg.surrealdb.passwordFile;
    "mail.passwordFile" = cfg.mail.passwordFile;
    "stripe.secretKeyFile" = cfg.stripe.secretKeyFile;
    "stripe.webhookSecretFile" = cfg.stripe.webhookSecretFile;
    "google.clientSecretFile" = cfg.google.clientSecretFile;
    "edge.cookieSecretFile" = cfg.edge.cookieSecretFile;
    "environmentFile" = cfg.environmentFile;
  } // lib.mapAttrs' (name: nameValuePair "credentials.${name}") cfg.credentials;
  unsafeSecretFiles = lib.attrNames (filterAttrs (_: path: path != null && !helpers.isSafeSecretPath path) secretFileOptions);

  leaky = helpers.leakySettings cfg.settings;

  manyCopies = filter (domain: cfg.nodes.${domain}.instances > 1) enabledNodes;

  mailboxDir = cfg.settings.BAZAAR_MAILBOX_DIR;

  secretFile = name: description: mkOption {
    type = types.nullOr types.str;
    default = null;
    example = "/run/secrets/bazaar/${name}";
    description = ''
      ${description}

      An absolute path to a file that only root can read, outside the Nix
      store. systemd hands it to the units as a credential (`LoadCredential=`).
    '';
  };

  settingValue = types.nullOr (types.oneOf [ types.bool types.int types.str (types.listOf types.str) ]);

  # A setting the binary reads that no typed option stands for: declared in
  # `settings` for its type and documentation, null (the binary's default) unless set.
  setting = type: description: mkOption {
    type = types.nullOr type;
    default = null;
    inherit description;
  };
in
{
  options.services.bazaar = {
    enable = mkEnableOption "Bazaar, the multi-vendor marketplace";

    package = lib.mkPackageOption pkgs "bazaar" { };

    dataDir = mkOption {
      type = types.str;
      default = "/var/lib/bazaar";
      description = ''
        Where Bazaar keeps its files on this box (`BAZAAR_DATA_DIR`): the
        embedded database in allInOne mode, generated keys, mail spool.
        It is the units' `StateDirectory`, so it must lie under /var/lib.
      '';
    };

    settings = mkOption {
      type = types.submodule {
        freeformType = types.attrsOf settingValue;
        options = {
          BAZAAR_REQUEST_TIMEOUT_MS = setting types.ints.positive "How long a NATS request may take, in milliseconds (binary default 10000).";
          BAZAAR_HTTP_TIMEOUT_MS = setting types.ints.positive "Edges: the longest an HTTP request may take, in milliseconds (binary default 30000).";
          BAZAAR_BODY_LIMIT_BYTES = setting types.ints.positive "Edges: the largest request body accepted, in bytes (binary default 1048576).";
          BAZAAR_EDGE_KEPT_PAGES = setting types.ints.unsigned "Edges: product pages kept in memory at most; 0 keeps none (binary default 20000).";
          BAZAAR_CATALOG_PURGE_AFTER_SECS = setting types.ints.unsigned "Catalog: how long a deleted product stays in the bin before it is purged, in seconds (binary default 86400).";
          BAZAAR_CATALOG_MAINTENANCE_SECS = setting types.ints.positive "Catalog: how often its scheduled work runs, in seconds (binary default 60).";
          BAZAAR_IMAGES_MAX_BYTES = setting types.ints.unsigned "Catalog: the most the images bucket may hold, in bytes; 0 for no cap (binary default 1073741824).";
          BAZAAR_SEARCH_THREADS = setting types.ints.positive "Search: threads that run queries; more queries at once wait their turn (binary default: one a core).";
          BAZAAR_MAIL_RETRY_BASE_MS = setting types.ints.positive "Mail: the first retry delay in milliseconds, doubled each time up to 5 minutes (binary default 2000).";
          BAZAAR_MAILBOX_DIR = setting types.str ''
            Mail without {option}`services.bazaar.mail.smtpUrl`: where messages are
            written as files (binary default: `mailbox/` under
            {option}`services.bazaar.dataDir`). It must lie under dataDir, the
            only place the units may write.
          '';
          BAZAAR_STRIPE_API_BASE = setting types.str "Where the orders node reaches the Stripe API (binary default https://api.stripe.com; tests point it at a stand-in).";
        };
      };
      default = { };
      example = literalExpression ''
        {
          RUST_LOG = "info,bazaar_orders=debug";
          BAZAAR_REQUEST_TIMEOUT_MS = 5000;
          BAZAAR_CATALOG_PURGE_AFTER_SECS = 7 * 86400;
        }
      '';
      description = ''
        The environment the `bazaar` binary reads, by variable name. Booleans
        become `true`/`false`, lists are joined with commas, `null` leaves the
        binary's default. The typed options of this module set their variables
        here with `mkDefault`, so a value here wins. The settings declared here
        are type-checked; any other `BAZAAR_*` variable may be set too.

        These values land in the world-readable Nix store: secrets belong in
        {option}`environmentFile` or in the `*File` options, and setting one
        here (a `*_PASSWORD`, `*_SECRET*` or `*_PRIVATE_KEY*` variable, or a URL
        with a password) fails the build.
      '';
    };

    environmentFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/secrets/bazaar.env";
      description = ''
        A file of `NAME=value` lines (systemd `EnvironmentFile=`) that every
        bazaar unit reads: the place for secrets such as
        `BAZAAR_STRIPE_SECRET_KEY`, `BAZAAR_SMTP_PASSWORD`,
        `BAZAAR_GOOGLE_CLIENT_SECRET` or `BAZAAR_DATABASE_PASSWORD`.
        An absolute path outside the Nix store.
      '';
    };

    credentials = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = { BAZAAR_STRIPE_SECRET_KEY = "/run/secrets/stripe-secret-key"; };
      description = ''
        More secret files, by credential name (`LoadCredential=name:path`). A
        `BAZAAR_*` name is exported as that environment variable with the
        file's content, a `BAZAAR_*_FILE` name with the file's path; any name is
        readable at `$CREDENTIALS_DIRECTORY/name`.
      '';
    };

    publicUrl = mkOption {
      type = types.str;
      default = "http://localhost:${toString cfg.edge.port}";
      defaultText = literalExpression ''"http://localhost:''${toString config.services.bazaar.edge.port}"'';
      example = "https://shop.example.com";
      description = "The URL shoppers use (`BAZAAR_PUBLIC_URL`): links in mail, OAuth and payment redirects.";
    };

    corsOrigins = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "https://admin.example.com" ];
      description = "Origins allowed to call the API from a browser (`BAZAAR_CORS_ORIGINS`).";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Open the edge ports, and with a local NATS cluster its client and
        cluster ports, in the firewall.
      '';
    };

    allInOne = {
      enable = mkEnableOption ''
        the single-process platform (`bazaar serve`): every node and the edge in
        one process on embedded storage under {option}`dataDir`, with its own
        nats-server unless {option}`services.bazaar.nats.local` is set. For the
        smallest shops; it cannot be scaled out (one copy, one box)'';
      seed = mkOption {
        type = types.bool;
        default = false;
        description = "Create the demo shop data on first start.";
      };
    };

    edge = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Run HTTP edges (`bazaar edge`) on this box.";
      };
      address = mkOption {
        type = types.str;
        default = "127.0.0.1";
        example = "0.0.0.0";
        description = ''
          Address the edges listen on. The default suits a reverse proxy
          (nginx, Caddy) on the same box; a load balancer elsewhere needs a
          reachable address.
        '';
      };
      port = mkOption {
        type = types.port;
        default = 8080;
        description = "Port of the first edge; copy n listens on port + n - 1.";
      };
      instances = mkOption {
        type = types.ints.positive;
        default = 1;
        description = "How many edges to run on this box (`bazaar-edge@<port>.service`).";
      };
      trustForwarded = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Take the client's address from `X-Forwarded-For`
          (`BAZAAR_TRUST_FORWARDED`) for the per-address rate limits. Turn it
          on only when every request reaches the edges through one proxy you
          run that appends the client's address (nginx's recommended
          `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`):
          the edge takes the header's last address, the one your proxy added;
          earlier ones are whatever the client sent. Off, every request
          through a local proxy counts as 127.0.0.1.
        '';
      };
      rateLimit = {
        perMinute = mkOption {
          type = types.ints.positive;
          default = 1200;
          description = "API requests per minute per client address (`BAZAAR_RATE_LIMIT_PER_MINUTE`).";
        };
        authPerMinute = mkOption {
          type = types.ints.positive;
          default = 30;
          description = "Sign-in, sign-up, code and reset requests per minute per client address (`BAZAAR_AUTH_RATE_LIMIT_PER_MINUTE`).";
        };
        accountPer15Min = mkOption {
          type = types.ints.positive;
          default = 10;
          description = "Sign-in, sign-up, code and reset attempts per account (email) per 15 minutes (`BAZAAR_ACCOUNT_RATE_LIMIT_PER_15MIN`).";
        };
      };
      cookieSecretFile = secretFile "cookie-secret" ''
        The key the edges sign guest cart cookies with (`BAZAAR_COOKIE_SECRET`),
        the same on every edge of the site (`openssl rand -hex 32`). On a single
        box without {option}`services.bazaar.environmentFile`, null makes one at
        first start; otherwise set this, or put `BAZAAR_COOKIE_SECRET` in the
        environment file. Without any, each edge process makes its own, so a
        guest's cart is lost at a restart or at another edge.
      '';
    };

    orders = {
      platformFeeBps = mkOption {
        type = types.ints.between 0 10000;
        default = 1000;
        example = 500;
        description = ''
          The platform's fee on every order, in basis points: 1000 is 10 %
          (`BAZAAR_PLATFORM_FEE_BPS`). It is kept from the shop's payout.
        '';
      };
      checkoutTtlSecs = mkOption {
        type = types.ints.positive;
        default = 1800;
        description = ''
          How long a card checkout may wait for its payment before its stock is
          released, in seconds (`BAZAAR_CHECKOUT_TTL_SECS`).
        '';
      };
    };

    nodes = genAttrs helpers.domains (domain: {
      enable = mkOption {
        type = types.bool;
        default = helpers.isServed domain;
        defaultText = literalExpression (if helpers.isServed domain then "true" else "false");
        description = ''
          Run the ${domain} node (`bazaar node ${domain}`) on this box. Ignored in allInOne mode.
        '' + lib.optionalString (!helpers.isServed domain) ''
          This version of the binary does not serve the ${domain} domain yet:
          it stays off, and turning it on fails the build.
        '';
      };
      instances = mkOption {
        type = types.ints.positive;
        default = 1;
        description = ''
          How many copies of the ${domain} node to run on this box
          (`bazaar-${domain}@1.service` …). Copies share the work through a
          NATS queue group.
        '';
      };
    });

    metrics = {
      enable = mkEnableOption ''
        Prometheus metrics: every Bazaar unit on this box serves them
        (`BAZAAR_METRICS_ADDR`) on a port of its own, from
        {option}`services.bazaar.metrics.port` up: the edges' copies first,
        then each node's copies in start order (admin, auth, mail, catalog,
        search, sellers, orders, chat, recommend). See docs/metrics.md'';
      address = mkOption {
        type = types.str;
        default = "127.0.0.1";
        example = "0.0.0.0";
        description = ''
          Address the units serve their metrics on. The default suits a
          Prometheus on the same box; one elsewhere needs a reachable address
          (and {option}`networking.firewall` opened for it).
        '';
      };
      port = mkOption {
        type = types.port;
        default = 9464;
        description = "The first unit's metrics port; the others follow it, one each.";
      };
      scrape = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Add every unit of this box to the local Prometheus
          ({option}`services.prometheus.scrapeConfigs`, job `bazaar`) when
          {option}`services.prometheus.enable` is set.
        '';
      };
    };

    migrate.enable = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Run `bazaar migrate` (bazaar-migrate.service) before the nodes start.
        With several boxes, enable it on one: nodes elsewhere wait, restarting,
        until the schema is current.
      '';
    };

    recommender.retrain = {
      enable = mkOption {
        type = types.bool;
        default = cfg.nodes.recommend.enable;
        defaultText = literalExpression "config.services.bazaar.nodes.recommend.enable";
        description = ''
          Retrain the recommender (`bazaar retrain`) on a timer: it reads the
          last 90 days of events, evaluates the new model against popularity
          and publishes it only when it is better (the run fails otherwise,
          and the nodes keep the model they have). With several boxes, enable
          it on one.
        '';
      };
      schedule = mkOption {
        type = types.str;
        default = "hourly";
        example = "*-*-* 03:00:00";
        description = "When to retrain, as a systemd calendar event (`OnCalendar=`).";
      };
    };

    nats = {
      local = mkOption {
        type = types.bool;
        default = false;
        description = "Run NATS on this box with nixpkgs' {option}`services.nats`, JetStream on.";
      };
      port = mkOption {
        type = types.port;
        default = 4222;
        description = "Client port of the local NATS server.";
      };
      url = mkOption {
        type = types.nullOr types.str;
        default = if cfg.nats.local then "nats://127.0.0.1:${toString cfg.nats.port}" else null;
        defaultText = literalExpression ''if nats.local then "nats://127.0.0.1:''${toString nats.port}" else null'';
        example = "nats://10.0.0.1:4222,nats://10.0.0.2:4222,nats://10.0.0.3:4222";
        description = ''
          NATS server URL(s), comma separated (`BAZAAR_NATS_URL`). Credentials
          in the URL are secrets: put such a URL in {option}`environmentFile`.
        '';
      };
      credentialsDir = mkOption {
        type = types.nullOr types.str;
        default = if allInOne then null else "/var/lib/bazaar-nats";
        defaultText = literalExpression ''if allInOne.enable then null else "/var/lib/bazaar-nats"'';
        description = ''
          Where the bus's credentials are: one nkey seed per identity
          (`<identity>.nk`, root only) and the server configuration, as
          `bazaar nats-setup --out` writes them. With {option}`nats.local`,
          `bazaar-nats-setup.service` writes them here before NATS starts
          (keeping seeds that exist) and the server runs with its
          configuration. Boxes of one deployment share the credentials: run it
          on one box and copy the directory to the others (the same path).
          The units load the seeds they need as systemd credentials. `null`
          connects without credentials (a NATS server that asks for none).
          allInOne keeps its own in its data dir.
        '';
      };
      tls = {
        certFile = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "/var/lib/nats-tls/server.pem";
          description = "Certificate (PEM) of the local NATS server, for client and cluster connections; readable by the nats user.";
        };
        keyFile = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "/var/lib/nats-tls/server-key.pem";
          description = "Private key of {option}`nats.tls.certFile`; readable by the nats user only.";
        };
        caFile = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "/var/lib/nats-tls/ca.pem";
          description = ''
            CA that signed the NATS servers' certificates. Set, every Bazaar
            unit requires TLS to NATS (`BAZAAR_NATS_CA_FILE`, loaded as a
            credential) and the servers verify each other's routes with it.
          '';
        };
      };
      cluster = {
        enable = mkEnableOption "clustering of the local NATS server with the other boxes' (needs nats.local)";
        name = mkOption {
          type = types.str;
          default = "bazaar";
          description = "Name of the NATS cluster, the same on every box.";
        };
        port = mkOption {
          type = types.port;
          default = 6222;
          description = "Port the NATS servers talk to each other on.";
        };
        routes = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [ "nats://10.0.0.1:6222" "nats://10.0.0.2:6222" "nats://10.0.0.3:6222" ];
          description = "Cluster URLs of every NATS server of the cluster (this box's own may be listed).";
        };
      };
    };

    surrealdb = {
      local = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Run a SurrealDB server on this box with nixpkgs'
          {option}`services.surrealdb`. Its storage is local unless
          {option}`services.bazaar.surrealdb.storage` points at TiKV.
        '';
      };
      port = mkOption {
        type = types.port;
        default = 8000;
        description = "Port of the local SurrealDB server (on 127.0.0.1).";
      };
      storage = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "tikv://10.0.0.1:2379";
        description = ''
          Storage of the local SurrealDB server (`surreal start` path), null for
          nixpkgs' default. Several boxes share one database by running each a
          SurrealDB server on the same TiKV cluster.
        '';
      };
      url = mkOption {
        type = types.nullOr types.str;
        default = if cfg.surrealdb.local then "ws://127.0.0.1:${toString cfg.surrealdb.port}" else null;
        defaultText = literalExpression ''if surrealdb.local then "ws://127.0.0.1:''${toString surrealdb.port}" else null'';
        example = "ws://db.internal:8000";
        description = ''
          The database (`BAZAAR_DATABASE_URL`). Separate node processes need a
          SurrealDB server (`ws://`, `wss://`); null means the embedded store
          under {option}`dataDir`, which only allInOne can use.
        '';
      };
      user = mkOption {
        type = types.str;
        default = "root";
        description = "SurrealDB user (`BAZAAR_DATABASE_USER`).";
      };
      passwordFile = secretFile "surrealdb-password" ''
        The SurrealDB password (`BAZAAR_DATABASE_PASSWORD`). On a single box
        with a local SurrealDB, null makes one at first start.
      '';
    };

    jwt = {
      privateKeyFile = secretFile "jwt-ed25519.pem" ''
        Ed25519 private key (PKCS#8 PEM) the auth node signs access tokens
        with; only the auth node gets it. On a single box, null makes a key pair at
        first start; several boxes must share one pair:
        `openssl genpkey -algorithm ed25519 -out jwt-ed25519.pem`.
      '';
      publicKeyFile = secretFile "jwt-ed25519.pub.pem" ''
        Ed25519 public key (PEM) every node verifies tokens with:
        `openssl pkey -in jwt-ed25519.pem -pubout -out jwt-ed25519.pub.pem`.
      '';
    };

    mail = {
      smtpUrl = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "smtps://shop@mail.example.com:465";
        description = "SMTP server (`BAZAAR_SMTP_URL`, `smtp[s]://user@host:port`), without the password.";
      };
      from = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "Example Shop <shop@example.com>";
        description = "Sender of the shop's mail (`BAZAAR_MAIL_FROM`).";
      };
      passwordFile = secretFile "smtp-password" "The SMTP password (`BAZAAR_SMTP_PASSWORD`).";
    };

    stripe = {
      secretKeyFile = secretFile "stripe-secret-key" "Stripe secret API key (`BAZAAR_STRIPE_SECRET_KEY`).";
      webhookSecretFile = secretFile "stripe-webhook-secret" "Stripe webhook signing secret (`BAZAAR_STRIPE_WEBHOOK_SECRET`).";
    };

    google = {
      clientId = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "Google sign-in OAuth client id (`BAZAAR_GOOGLE_CLIENT_ID`).";
      };
      issuer = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "https://accounts.google.com";
        description = "OpenID issuer (`BAZAAR_GOOGLE_ISSUER`); null keeps the binary's default.";
      };
      clientSecretFile = secretFile "google-client-secret" "Google OAuth client secret (`BAZAAR_GOOGLE_CLIENT_SECRET`).";
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions = [
        {
          assertion = lib.hasPrefix "/var/lib/" cfg.dataDir && stateDirectory != "";
          message = "${opt}.dataDir = \"${cfg.dataDir}\" must lie under /var/lib/: it is the units' StateDirectory (DynamicUser).";
        }
        {
          assertion = leaky == [ ];
          message = ''
            ${opt}.settings.${helpers.listSentence leaky} would put a secret in the world-readable Nix store.
            Put it in ${opt}.environmentFile, or use the matching *File option
            (surrealdb.passwordFile, mail.passwordFile, stripe.secretKeyFile, stripe.webhookSecretFile,
            google.clientSecretFile, jwt.privateKeyFile) or ${opt}.credentials.'';
        }
        {
          assertion = unsafeSecretFiles == [ ];
          message = ''
            ${opt}.${helpers.listSentence unsafeSecretFiles} must be an absolute path outside the Nix store
            (the store is readable by every user): write it as a quoted string such as "/run/secrets/…",
            not a Nix path like ./secret.'';
        }
        {
          assertion = !(allInOne && manyCopies != [ ]);
          message = ''
            ${opt}.allInOne runs every node once in one process; it cannot run several copies of
            ${helpers.listSentence manyCopies}. Set their instances to 1, or turn allInOne off and use a
            SurrealDB server (surrealdb.local or surrealdb.url).'';
        }
        {
          assertion = !(allInOne && cfg.edge.instances > 1);
          message = "${opt}.allInOne serves HTTP from its one process: edge.instances must be 1.";
        }
        {
          assertion = !usesDatabase || (databaseUrl != null && helpers.isServerDatabase databaseUrl);
          message = ''
            ${opt}: separate node processes need a SurrealDB server, but the database is
            ${if databaseUrl == null then "the embedded store" else "\"${databaseUrl}\""}, which only one process can open.
            Set ${opt}.surrealdb.local = true (a server on this box), ${opt}.surrealdb.url = "ws://host:8000",
            or use ${opt}.allInOne.enable = true for a single-process shop.'';
        }
        {
          assertion = allInOne || !(runsNodes || runsEdge || runsRetrain) || (cfg.settings.BAZAAR_NATS_URL or null) != null;
          message = ''
            ${opt}: the nodes and edges need NATS. Set ${opt}.nats.local = true (a server on this box)
            or ${opt}.nats.url = "nats://host:4222".'';
        }
        {
          assertion = (cfg.nats.tls.certFile == null) == (cfg.nats.tls.keyFile == null);
          message = "${opt}.nats.tls: set certFile and keyFile together.";
        }
        {
          assertion = cfg.nats.tls.certFile == null || cfg.nats.local;
          message = "${opt}.nats.tls.certFile is the local NATS server's certificate: set ${opt}.nats.local = true too (other boxes need only nats.tls.caFile).";
        }
        {
          assertion = !(cfg.nats.local && !allInOne && !natsClosed);
          message = ''
            ${opt}.nats.credentialsDir is null, so the local NATS server would take anyone's connection:
            leave it at its default (bazaar-nats-setup.service writes the credentials).'';
        }
        {
          assertion = !cfg.nats.cluster.enable || cfg.nats.local;
          message = "${opt}.nats.cluster.enable clusters the local NATS server: set ${opt}.nats.local = true too.";
        }
        {
          assertion = !cfg.nats.cluster.enable || cfg.nats.cluster.routes != [ ];
          message = "${opt}.nats.cluster.routes must list the cluster URLs of the NATS servers (nats://host:${toString cfg.nats.cluster.port}).";
        }
        {
          assertion = cfg.jwt.privateKeyFile == null || cfg.jwt.publicKeyFile != null;
          message = "${opt}.jwt.privateKeyFile is set, so set ${opt}.jwt.publicKeyFile too (openssl pkey -in jwt-ed25519.pem -pubout -out jwt-ed25519.pub.pem).";
        }
        {
          assertion = allInOne || !runsNodes || oneBox || jwtPublicKeyFile != null;
          message = ''
            ${opt}: with several boxes every node must verify tokens with the same key, so a key pair
            cannot be made per box. Make one (openssl genpkey -algorithm ed25519 -out jwt-ed25519.pem;
            openssl pkey -in jwt-ed25519.pem -pubout -out jwt-ed25519.pub.pem), copy it to every box,
            and set ${opt}.jwt.publicKeyFile (and jwt.privateKeyFile where the auth node runs).'';
        }
        {
          assertion = allInOne || !(cfg.nodes.auth.enable && runsNodes) || jwtPrivateKeyFile != null;
          message = "${opt}: the auth node signs tokens: set ${opt}.jwt.privateKeyFile (the key pair shared by every box).";
        }
        {
          assertion = !(cfg.surrealdb.local && databasePasswordFile == null);
          message = ''
            ${opt}.surrealdb.passwordFile must be set: a SurrealDB server shared by several boxes
            (storage on TiKV, or other boxes' nodes) needs one root password on every box.'';
        }
        {
          assertion = !(cfg.settings ? BAZAAR_HTTP_ADDR);
          message = "${opt}.settings.BAZAAR_HTTP_ADDR is set per edge copy: use ${opt}.edge.address and ${opt}.edge.port.";
        }
        {
          assertion = cfg.edge.port + cfg.edge.instances - 1 <= 65535;
          message = "${opt}.edge: ${toString cfg.edge.instances} copies from port ${toString cfg.edge.port} run past port 65535.";
        }
        {
          assertion = !cfg.metrics.enable || lib.all (port: port <= 65535) metricsPorts.all;
          message = "${opt}.metrics: ${toString (builtins.length metricsPorts.all)} units from port ${toString cfg.metrics.port} run past port 65535.";
        }
        {
          assertion = !cfg.metrics.enable || !(lib.any (port: lib.elem port metricsPorts.all) (if allInOne then [ cfg.edge.port ] else optionals runsEdge edgePorts));
          message = "${opt}.metrics.port: the units' metrics ports (${toString cfg.metrics.port} and up, one per unit) overlap the edges' ports; pick another.";
        }
        {
          assertion = unservedNodes == [ ];
          message = ''
            ${helpers.listSentence (map (domain: "${opt}.nodes.${domain}.enable") unservedNodes)}: this version of bazaar does not serve
            the ${helpers.listSentence unservedNodes} domain${lib.optionalString (builtins.length unservedNodes > 1) "s"} yet (`bazaar node` would exit at start). It serves
            ${helpers.listSentence helpers.servedDomains}; leave the others off until a release serves them.'';
        }
        {
          assertion = (cfg.settings.BAZAAR_PORT or null) == null;
          message = "${opt}.settings.BAZAAR_PORT is given on the command line from ${opt}.edge.port: set that instead.";
        }
        {
          assertion = mailboxDir == null || helpers.isUnder cfg.dataDir mailboxDir;
          message = ''
            ${opt}.settings.BAZAAR_MAILBOX_DIR = "${toString mailboxDir}" must lie under dataDir (${cfg.dataDir}):
            the units may write nowhere else (ProtectSystem=strict).'';
        }
        {
          assertion = !(cfg.mail.smtpUrl != null && helpers.urlHasPassword cfg.mail.smtpUrl);
          message = "${opt}.mail.smtpUrl carries a password: drop it from the URL and set ${opt}.mail.passwordFile.";
        }
      ];

      warnings =
        optional (cfg.openFirewall && helpers.isLoopback cfg.edge.address && servesHttp)
          "${opt}.openFirewall opens port ${toString cfg.edge.port}, but the edge listens on ${cfg.edge.address}: set ${opt}.edge.address (e.g. \"0.0.0.0\") for other machines to reach it."
        ++ optional (cfg.edge.trustForwarded && cfg.openFirewall && !helpers.isLoopback cfg.edge.address && servesHttp)
          "${opt}.edge.trustForwarded takes the client's address from X-Forwarded-For, but openFirewall lets clients reach the edges directly and forge that header to dodge the rate limits: keep the edges behind your proxy."
        ++ optional (runsEdge && !oneBox && !cookieSecretGiven)
          "${opt}: edges on several boxes must sign guest cart cookies with one key, or a guest's cart is lost at another edge: set ${opt}.edge.cookieSecretFile (openssl rand -hex 32, the same file on every box) or BAZAAR_COOKIE_SECRET in ${opt}.environmentFile.";

      # Settings the typed options stand for; a value in settings wins.
      services.bazaar.settings = lib.mapAttrs (_: mkDefault) {
        BAZAAR_PUBLIC_URL = cfg.publicUrl;
        BAZAAR_NATS_URL = cfg.nats.url;
        BAZAAR_DATABASE_URL = cfg.surrealdb.url;
        BAZAAR_DATABASE_USER = if cfg.surrealdb.url != null then cfg.surrealdb.user else null;
        BAZAAR_CORS_ORIGINS = if cfg.corsOrigins == [ ] then null else cfg.corsOrigins;
        BAZAAR_SMTP_URL = cfg.mail.smtpUrl;
        # One box without SMTP keeps mail as files under dataDir, never
        # served over HTTP (`bazaar serve` needs one transport or the other).
        BAZAAR_MAILBOX_DIR = if allInOne && cfg.mail.smtpUrl == null then "${cfg.dataDir}/mailbox" else null;
        BAZAAR_MAIL_FROM = cfg.mail.from;
        BAZAAR_GOOGLE_CLIENT_ID = cfg.google.clientId;
        BAZAAR_GOOGLE_ISSUER = cfg.google.issuer;
        BAZAAR_PLATFORM_FEE_BPS = cfg.orders.platformFeeBps;
        BAZAAR_CHECKOUT_TTL_SECS = cfg.orders.checkoutTtlSecs;
        BAZAAR_RATE_LIMIT_PER_MINUTE = cfg.edge.rateLimit.perMinute;
        BAZAAR_AUTH_RATE_LIMIT_PER_MINUTE = cfg.edge.rateLimit.authPerMinute;
        BAZAAR_ACCOUNT_RATE_LIMIT_PER_15MIN = cfg.edge.rateLimit.accountPer15Min;
        BAZAAR_TRUST_FORWARDED = cfg.edge.trustForwarded;
        BAZAAR_LOG_FORMAT = "json";
        RUST_LOG = "info";
      };

      systemd.targets.bazaar = {
        description = "Bazaar marketplace";
        wantedBy = [ "multi-user.target" ];
        wants = unitNames;
      };

      environment.systemPackages = [ ctl ];

      networking.firewall.allowedTCPPorts = mkIf cfg.openFirewall (
        optionals (runsEdge || allInOne) (if allInOne then [ cfg.edge.port ] else edgePorts)
        ++ optionals cfg.nats.cluster.enable [ cfg.nats.port cfg.nats.cluster.port ]
      );
    }

    (mkIf (cfg.metrics.enable && cfg.metrics.scrape && config.services.prometheus.enable) {
      services.prometheus.scrapeConfigs = [
        {
          job_name = "bazaar";
          static_configs = [{ targets = metricsTargets; }];
        }
      ];
    })

    (mkIf allInOne {
      systemd.services.bazaar = allInOneUnit;
    })

    (mkIf runsNodes {
      systemd.services = nodeUnits;
    })

    (mkIf runsEdge {
      systemd.services."bazaar-edge@" = edgeUnit;
    })

    (mkIf runsMigrate {
      # Retries until the database answers; nodes start after it.
      systemd.services.bazaar-migrate = mkMerge [
        (oneshot {
          description = "Bazaar database migrations";
          args = "migrate";
          restart = "on-failure";
        })
        { serviceConfig.RemainAfterExit = true; }
      ];
    })

    (mkIf runsRetrain {
      systemd.services.bazaar-retrain = oneshot {
        description = "Bazaar recommender retraining";
        args = "retrain";
        restart = "no";
        nats = [ "operator" ];
      };
      systemd.timers.bazaar-retrain = {
        description = "Retrain the Bazaar recommender";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = cfg.recommender.retrain.schedule;
          Persistent = true;
          RandomizedDelaySec = "5min";
        };
      };
    })

    (mkIf runsSecrets {
      systemd.services.bazaar-secrets = {
        description = "Bazaar secrets of a single box";
        before = optional cfg.surrealdb.local "surrealdb.service";
        partOf = [ "bazaar.target" ];
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          ExecStart = "${pkgs.writeShellScript "bazaar-secrets" (helpers.secretsScript {
            openssl = "${pkgs.openssl}/bin/openssl";
            dir = secretsDir;
            inherit generateJwt generateDatabasePassword generateCookieSecret;
            databasePasswordFile = if cfg.surrealdb.local then databasePasswordFile else null;
            databaseUser = cfg.surrealdb.user;
          })}";
          StateDirectory = "bazaar-secrets";
          StateDirectoryMode = "0700";
          UMask = "0077";
          PrivateTmp = true;
          PrivateNetwork = true;
          ProtectSystem = "strict";
          ProtectHome = true;
          NoNewPrivileges = true;
          RestrictAddressFamilies = [ "AF_UNIX" ];
          SystemCallFilter = [ "@system-service" ];
        };
      };
    })

    (mkIf cfg.nats.local {
      services.nats = {
        enable = true;
        jetstream = true;
        port = cfg.nats.port;
        serverName = mkDefault config.networking.hostName;
        settings = {
          host = mkDefault (if cfg.nats.cluster.enable then "0.0.0.0" else "127.0.0.1");
        } // optionalAttrs cfg.nats.cluster.enable {
          cluster = helpers.natsCluster { inherit (cfg.nats.cluster) name port routes; } // natsTls;
        } // natsTls;
      };
    })

    (mkIf (cfg.nats.local && natsClosed && !allInOne) {
      # Writes the credentials (seeds kept) and the server configuration
      # with the permissions of this release's contract at every start.
      systemd.services.bazaar-nats-setup = {
        description = "Bazaar NATS credentials and server configuration";
        before = [ "nats.service" ];
        requiredBy = [ "nats.service" ];
        partOf = [ "bazaar.target" ];
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          ExecStart = "${cfg.package}/bin/bazaar nats-setup --out ${cfg.nats.credentialsDir} --base-config ${natsBaseConfig}";
          UMask = "0022";
          PrivateTmp = true;
          PrivateNetwork = true;
          ProtectHome = true;
          NoNewPrivileges = true;
          RestrictAddressFamilies = [ "AF_UNIX" ];
        };
      };
      systemd.services.nats = {
        after = [ "bazaar-nats-setup.service" ];
        serviceConfig.ExecStart = lib.mkForce "${pkgs.nats-server}/bin/nats-server -c ${cfg.nats.credentialsDir}/nats-server.conf";
      };
    })

    (mkIf cfg.surrealdb.local {
      services.surrealdb = {
        enable = true;
        host = mkDefault "127.0.0.1";
        port = cfg.surrealdb.port;
      } // optionalAttrs (cfg.surrealdb.storage != null) {
        dbPath = cfg.surrealdb.storage;
      };
      # The root user and password, from the file bazaar-secrets writes.
      systemd.services.surrealdb = {
        after = [ "bazaar-secrets.service" ];
        requires = [ "bazaar-secrets.service" ];
        serviceConfig.EnvironmentFile = [ "${secretsDir}/surrealdb.env" ];
      };
    })
  ]);
}
