# Pure helpers of the services.bazaar module: they take nixpkgs' `lib` and
# nothing else (no pkgs, no config), so tests/nix/run evaluates and runs them
# on their own.
{ lib }:
let
  inherit (lib)
    any
    concatMapStringsSep
    concatStringsSep
    elem
    filterAttrs
    genList
    hasInfix
    hasPrefix
    isBool
    isList
    isString
    mapAttrs
    optionalString
    ;
in
rec {
  # Every domain of the topology (`bazaar node <domain>`), in start order.
  domains = [ "admin" "auth" "mail" "catalog" "search" "sellers" "orders" "chat" "logs" "recommend" "analytics" ];

  # The domains this version of the binary serves (nodes/bazaar/src/platform.rs,
  # DOMAINS). `bazaar node <other>` exits with "not part of this build yet", so
  # the others stay declared, off, until the binary serves them.
  servedDomains = [ "admin" "auth" "mail" "catalog" "search" "sellers" "orders" "chat" "logs" "recommend" "analytics" ];

  isServed = domain: elem domain servedDomains;

  # Where copy `instance` of the search node keeps its index
  # (`BAZAAR_SEARCH_INDEX_DIR`): under dataDir, one per copy, since an index
  # directory takes one writer and each copy follows the events on its own.
  searchIndexDir = dataDir: instance: "${dataDir}/search-index-${instance}";

  # Environment variables whose value is a secret. They reach the binary only
  # through `environmentFile` or a credential file, never through `settings`
  # (whose values are written to the world-readable Nix store).
  secretNames = [
    "BAZAAR_DATABASE_PASSWORD"
    "BAZAAR_SMTP_PASSWORD"
    "BAZAAR_STRIPE_SECRET_KEY"
    "BAZAAR_STRIPE_WEBHOOK_SECRET"
    "BAZAAR_GOOGLE_CLIENT_SECRET"
    "BAZAAR_COOKIE_SECRET"
    "BAZAAR_JWT_PRIVATE_KEY_FILE"
  ];

  # A name that holds a secret (or the path of one): the list above, and any
  # name that reads like one, so a future secret is caught too.
  isSecretName = name:
    elem name secretNames
    || builtins.match ".*(PASSWORD|SECRET|SECRET_KEY|TOKEN|PRIVATE_KEY|PRIVATE_KEY_FILE)" name != null;

  # `scheme://user:password@host`: a URL that carries a password.
  urlHasPassword = value:
    isString value && builtins.match "[a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*:[^/@]*@.*" value != null;

  # Where a settings value would leak a secret: the names of the offending settings.
  leakySettings = settings:
    builtins.attrNames (filterAttrs (name: value: value != null && (isSecretName name || urlHasPassword value)) settings);

  # A path in the Nix store (readable by every user of the machine), written
  # out or interpolated from a Nix path.
  inStore = path: hasPrefix builtins.storeDir path || builtins.hasContext path;

  # `path` is `dir` or lies under it.
  isUnder = dir: path: path == dir || hasPrefix (lib.removeSuffix "/" dir + "/") path;

  # A secret file option's value is fine when it is an absolute path outside the store.
  isSafeSecretPath = path: hasPrefix "/" path && !(inStore path);

  # One settings value as the binary reads it from the environment.
  renderValue = value:
    if isBool value then (if value then "true" else "false")
    else if isList value then concatMapStringsSep "," toString value
    else toString value;

  # settings -> environment: nulls are left out (the binary's default applies).
  renderEnv = settings: mapAttrs (_: renderValue) (filterAttrs (_: value: value != null) settings);

  # Instance names of a template unit with `count` copies: "1" .. "count".
  instanceNames = count: genList (i: toString (i + 1)) count;

  # The ports of `count` edge copies, from `port` up.
  edgePorts = port: count: genList (i: port + i) count;

  # The metrics ports of a box's units (`BAZAAR_METRICS_ADDR`), one each,
  # from `port` up: the all-in-one process alone, or the edges' copies
  # first, then each node's copies in `nodes`' order (a list of
  # { domain; instances; }). Gives { edges = [ port … ]; nodes = { <domain> =
  # first port; }; all = [ every port ]; }.
  metricsPorts = { port, allInOne, edges, nodes }:
    if allInOne then { edges = [ ]; nodes = { }; all = [ port ]; }
    else
      let
        edgePortList = genList (i: port + i) edges;
        step = acc: node: {
          next = acc.next + node.instances;
          nodes = acc.nodes // { ${node.domain} = acc.next; };
        };
        laid = builtins.foldl' step { next = port + edges; nodes = { }; } nodes;
      in
      {
        edges = edgePortList;
        inherit (laid) nodes;
        all = genList (i: port + i) (laid.next - port);
      };

  # host:port, with brackets around an IPv6 address.
  hostPort = address: port:
    if hasInfix ":" address then "[${address}]:${toString port}" else "${address}:${toString port}";

  isLoopback = address: address == "localhost" || hasPrefix "127." address || address == "::1";

  # Database URLs that only one process can open (or that live in one process).
  isEmbeddedDatabase = url: any (scheme: hasPrefix scheme url) [ "surrealkv://" "mem://" "memory" "rocksdb://" "file://" ];

  # Database URLs of a SurrealDB server, which many processes share.
  isServerDatabase = url: any (scheme: hasPrefix scheme url) [ "ws://" "wss://" "http://" "https://" ];

  # The NATS cluster block of nats-server's configuration.
  # The local NATS server's whole configuration, before `bazaar nats-setup`
  # adds the users: nixpkgs' settings plus what its module may otherwise put
  # on the command line.
  natsServerSettings = { settings, serverName, port, jetstream, dataDir }:
    settings
    // { server_name = serverName; inherit port; }
    // lib.optionalAttrs jetstream { jetstream = { store_dir = dataDir; }; };

  natsCluster = { name, port, routes }: {
    inherit name routes;
    listen = "0.0.0.0:${toString port}";
  };

  # Body of the script every bazaar unit starts through. A credential named
  # like an environment variable becomes one: BAZAAR_*_FILE names get the
  # credential's path (key files), other BAZAAR_* names its content (one secret
  # value each). Then it becomes bazaar with the unit's arguments.
  startScript = bazaar: ''
    if [ -n "''${CREDENTIALS_DIRECTORY:-}" ]; then
      for file in "$CREDENTIALS_DIRECTORY"/BAZAAR_*; do
        [ -f "$file" ] || continue
        name=''${file##*/}
        case "$name" in
          *_FILE) export "$name=$file" ;;
          *)
            value=$(< "$file")
            export "$name=$value"
            ;;
        esac
      done
    fi
    # A copy of a template unit serves its metrics on the unit's first
    # metrics port plus its place among the copies.
    if [ -n "''${BAZAAR_UNIT_METRICS_PORT:-}" ]; then
      port=$((BAZAAR_UNIT_METRICS_PORT + BAZAAR_UNIT_INSTANCE - BAZAAR_UNIT_FIRST_INSTANCE))
      export BAZAAR_METRICS_ADDR="$BAZAAR_UNIT_METRICS_HOST:$port"
    fi
    exec ${bazaar} "$@"
  '';

  # Body of the oneshot (run as root) that creates, once, the secrets a single
  # box may make for itself: the JWT key pair, the local SurrealDB password and
  # the key the edges sign guest cart cookies with. It also writes the
  # SurrealDB server's environment file from the password.
  secretsScript =
    { openssl
    , dir
    , generateJwt
    , generateDatabasePassword
    , generateCookieSecret ? false
    , databasePasswordFile ? null
    , databaseUser ? "root"
    }: ''
      set -eu
      umask 0077
      dir=${lib.escapeShellArg dir}
      mkdir -p "$dir"
      chmod 0700 "$dir"
    '' + optionalString generateJwt ''
      if [ ! -s "$dir/jwt-ed25519.pem" ]; then
        ${openssl} genpkey -algorithm ed25519 -out "$dir/jwt-ed25519.pem.new"
        mv "$dir/jwt-ed25519.pem.new" "$dir/jwt-ed25519.pem"
        rm -f "$dir/jwt-ed25519.pub.pem"
      fi
      if [ ! -s "$dir/jwt-ed25519.pub.pem" ]; then
        ${openssl} pkey -in "$dir/jwt-ed25519.pem" -pubout -out "$dir/jwt-ed25519.pub.pem.new"
        mv "$dir/jwt-ed25519.pub.pem.new" "$dir/jwt-ed25519.pub.pem"
      fi
    '' + optionalString generateDatabasePassword ''
      if [ ! -s "$dir/surrealdb-password" ]; then
        ${openssl} rand -hex 32 > "$dir/surrealdb-password.new"
        mv "$dir/surrealdb-password.new" "$dir/surrealdb-password"
      fi
    '' + optionalString generateCookieSecret ''
      if [ ! -s "$dir/cookie-secret" ]; then
        ${openssl} rand -hex 32 > "$dir/cookie-secret.new"
        mv "$dir/cookie-secret.new" "$dir/cookie-secret"
      fi
    '' + optionalString (databasePasswordFile != null) ''
      password=$(< ${lib.escapeShellArg databasePasswordFile})
      case "$password" in
        *"'"* | *'"'* | *\\* | *$'\n'*)
          echo "the SurrealDB password in ${databasePasswordFile} must not contain quotes, backslashes or line breaks" >&2
          exit 1
          ;;
      esac
      printf "SURREAL_USER='%s'\nSURREAL_PASS='%s'\n" ${lib.escapeShellArg databaseUser} "$password" > "$dir/surrealdb.env.new"
      mv "$dir/surrealdb.env.new" "$dir/surrealdb.env"
    '';

  # `--property=` arguments of systemd-run that give a one-off command the
  # same sandbox, environment and credentials as the units.
  runProperties = { environment, serviceConfig }:
    let
      prop = name: value: "--property=${name}=${value}";
      asList = value: if isList value then value else [ value ];
      envProps = lib.mapAttrsToList (name: value: prop "Environment" ''"${name}=${value}"'') environment;
      configProps = lib.concatLists (lib.mapAttrsToList
        (name: value: map (v: prop name (renderValue v)) (asList value))
        (filterAttrs (_: value: value != null) serviceConfig));
    in
    envProps ++ configProps;

  # A sentence listing names: "a, b and c".
  listSentence = names:
    let count = builtins.length names; in
    if count == 0 then ""
    else if count == 1 then builtins.head names
    else concatStringsSep ", " (lib.init names) + " and " + lib.last names;
}
