# Box 1 of 3: edge, every node, and the cluster's one-off job (migrations).
# See common.nix for the whole topology.
{
  imports = [
    (import ./common.nix { hostName = "bazaar1"; address = "10.0.0.1"; })
    ./edge.nix
  ];

  services.bazaar = {
    migrate.enable = true;
    # When a release serves the recommender: nodes.recommend.enable on every
    # box, and the retraining timer (recommender.retrain.enable) on this one.
  };
}
