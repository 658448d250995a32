# One box: a whole shop on one NixOS machine. NATS and SurrealDB run beside
# Bazaar (nixpkgs' services.nats and services.surrealdb); nginx terminates TLS
# in front of two edges; every node runs once, the catalog twice.
#
# Secrets never go in this file: put them on the machine as root-only files
# (by hand, agenix, sops-nix …) and name the files here. The JWT key pair and
# the SurrealDB password are made on the box at first start.
#
# Use: add the Bazaar flake's nixosModules.default to the machine's modules and
# import this file.
{
  services.bazaar = {
    enable = true;
    publicUrl = "https://shop.example.com";

    nats.local = true;
    surrealdb.local = true;

    edge.instances = 2; # 127.0.0.1:8080 and 127.0.0.1:8081, behind nginx
    nodes.catalog.instances = 2; # the busiest node gets a second copy
    orders.platformFeeBps = 1000; # the platform keeps 10 % of every order

    mail = {
      smtpUrl = "smtps://shop@mail.example.com:465";
      from = "Example Shop <shop@example.com>";
      passwordFile = "/run/secrets/bazaar/smtp-password";
    };
    stripe = {
      secretKeyFile = "/run/secrets/bazaar/stripe-secret-key";
      webhookSecretFile = "/run/secrets/bazaar/stripe-webhook-secret";
    };
    google = {
      clientId = "1234567890-example.apps.googleusercontent.com";
      clientSecretFile = "/run/secrets/bazaar/google-client-secret";
    };
  };

  services.nginx = {
    enable = true;
    recommendedProxySettings = true;
    recommendedTlsSettings = true;
    upstreams.bazaar.servers = {
      "127.0.0.1:8080" = { };
      "127.0.0.1:8081" = { };
    };
    virtualHosts."shop.example.com" = {
      enableACME = true;
      forceSSL = true;
      locations."/" = {
        proxyPass = "http://bazaar";
        proxyWebsockets = true; # chat
      };
    };
  };

  security.acme = {
    acceptTerms = true;
    defaults.email = "admin@example.com";
  };

  networking.firewall.allowedTCPPorts = [ 80 443 ];
}
