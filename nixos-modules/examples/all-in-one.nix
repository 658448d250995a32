# The smallest shop: the whole platform in one process (`bazaar dev`) with
# embedded storage under /var/lib/bazaar and its own nats-server. Nothing else
# to run, nothing to scale: when the shop grows, move to one-box.nix.
#
# Secrets come from one root-only environment file on the machine, e.g.
#   BAZAAR_STRIPE_SECRET_KEY=sk_live_…
#   BAZAAR_STRIPE_WEBHOOK_SECRET=whsec_…
#   BAZAAR_SMTP_PASSWORD=…
{
  services.bazaar = {
    enable = true;
    allInOne.enable = true;
    publicUrl = "https://tiny-shop.example.com";
    environmentFile = "/run/secrets/bazaar.env";
    mail = {
      smtpUrl = "smtps://shop@mail.example.com:465";
      from = "Tiny Shop <shop@example.com>";
    };
  };

  services.nginx = {
    enable = true;
    recommendedProxySettings = true;
    recommendedTlsSettings = true;
    virtualHosts."tiny-shop.example.com" = {
      enableACME = true;
      forceSSL = true;
      locations."/" = {
        proxyPass = "http://127.0.0.1:8080";
        proxyWebsockets = true;
      };
    };
  };

  security.acme = {
    acceptTerms = true;
    defaults.email = "admin@example.com";
  };

  networking.firewall.allowedTCPPorts = [ 80 443 ];
}
