# Box 3 of 3: workers only, with a second copy of the orders node.
# See common.nix for the whole topology.
{
  imports = [
    (import ./common.nix { hostName = "bazaar3"; address = "10.0.0.3"; })
  ];

  services.bazaar = {
    edge.enable = false;
    nodes.orders.instances = 2;
    migrate.enable = false;
    recommender.retrain.enable = false;
  };
}
