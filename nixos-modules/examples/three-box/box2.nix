# Box 2 of 3: edge and every node. See common.nix for the whole topology.
{
  imports = [
    (import ./common.nix { hostName = "bazaar2"; address = "10.0.0.2"; })
    ./edge.nix
  ];

  services.bazaar = {
    migrate.enable = false; # box 1 migrates; these nodes wait for it
    recommender.retrain.enable = false; # box 1 retrains
  };
}
