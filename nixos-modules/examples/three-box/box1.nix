# Box 1 of 3: edge, every node, and the cluster's one-off job (migrations).
# See common.nix for the whole topology.
{
  imports = [
    (import ./common.nix { hostName = "bazaar1"; address = "10.0.0.1"; })
    ./edge.nix
  ];

  services.bazaar = {
    migrate.enable = true;
    # The recommender's retraining timer runs here (the default); the other
    # boxes turn it off.
  };
}
