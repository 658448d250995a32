# The NixOS modules of Bazaar: import this file (or the flake's
# nixosModules.default) and set services.bazaar.
{
  imports = [ ./bazaar.nix ];
}
