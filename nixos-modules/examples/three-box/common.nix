# What the three boxes of this example share; each box file imports it with
# its own name and address:
#
#              bazaar1 (10.0.0.1)   bazaar2 (10.0.0.2)   bazaar3 (10.0.0.3)
#   nginx+edge        yes                  yes                   -
#   nodes       all ten, once     all ten, once     all ten, orders twice
#   NATS        ────────────── one JetStream cluster of three ──────────────
#   SurrealDB   a server on each box, all three on one TiKV cluster (PD+TiKV on each)
#   migrations        yes                   -                    -
#
# "All ten": admin, auth, mail, catalog, search, sellers, orders, chat, logs
# and recommend.
#
# Every node copy anywhere serves requests from every edge: the edges and the
# nodes only meet on NATS. The boxes talk over a private network (here
# 10.0.0.0/24 on interface wg0, e.g. WireGuard): NATS, SurrealDB, PD and TiKV
# run without TLS between boxes, so their ports are opened on wg0 only.
#
# Secrets, the same files on every box (root-only, outside the Nix store):
#   /run/secrets/bazaar/jwt-ed25519.pem, jwt-ed25519.pub.pem
#     openssl genpkey -algorithm ed25519 -out jwt-ed25519.pem
#     openssl pkey -in jwt-ed25519.pem -pubout -out jwt-ed25519.pub.pem
#   /run/secrets/bazaar/surrealdb-password   (openssl rand -hex 32)
#   /run/secrets/bazaar.env                  (BAZAAR_STRIPE_SECRET_KEY=… etc.)
{ hostName, address }:
{ lib, pkgs, ... }:
let
  boxes = [ "10.0.0.1" "10.0.0.2" "10.0.0.3" ];
  pdMembers = lib.concatStringsSep "," (lib.imap1 (i: ip: "pd${toString i}=http://${ip}:2380") boxes);
  pdEndpoints = lib.concatMapStringsSep "," (ip: "${ip}:2379") boxes;
  pdName = "pd${toString (lib.lists.findFirstIndex (ip: ip == address) null boxes + 1)}";
  tidbVersion = "v8.5.1";
in
{
  networking.hostName = hostName;

  services.bazaar = {
    enable = true;
    publicUrl = "https://shop.example.com";

    nats = {
      local = true;
      # Clients know every server, so a box whose NATS is down still works.
      url = lib.concatMapStringsSep "," (ip: "nats://${ip}:4222") boxes;
      cluster = {
        enable = true;
        routes = map (ip: "nats://${ip}:6222") boxes;
      };
    };

    surrealdb = {
      # A SurrealDB server on every box, stateless: the data lives in TiKV.
      local = true;
      storage = "tikv://${address}:2379";
      passwordFile = "/run/secrets/bazaar/surrealdb-password";
    };

    jwt = {
      privateKeyFile = "/run/secrets/bazaar/jwt-ed25519.pem";
      publicKeyFile = "/run/secrets/bazaar/jwt-ed25519.pub.pem";
    };

    environmentFile = "/run/secrets/bazaar.env";
    mail = {
      smtpUrl = "smtps://shop@mail.example.com:465";
      from = "Example Shop <shop@example.com>";
    };
    google.clientId = "1234567890-example.apps.googleusercontent.com";
  };

  # nixpkgs builds SurrealDB without its TiKV engine: add it.
  services.surrealdb.package = pkgs.surrealdb.overrideAttrs (old: {
    buildFeatures = (old.buildFeatures or [ ]) ++ [ "storage-tikv" ];
    nativeBuildInputs = (old.nativeBuildInputs or [ ]) ++ [ pkgs.protobuf ];
  });

  # TiKV is not packaged in nixpkgs: PingCAP's images, one PD and one TiKV per box.
  virtualisation.oci-containers = {
    backend = "podman";
    containers = {
      pd = {
        image = "pingcap/pd:${tidbVersion}";
        extraOptions = [ "--network=host" ];
        volumes = [ "/var/lib/pd:/data" ];
        cmd = [
          "--name=${pdName}"
          "--data-dir=/data"
          "--client-urls=http://0.0.0.0:2379"
          "--advertise-client-urls=http://${address}:2379"
          "--peer-urls=http://0.0.0.0:2380"
          "--advertise-peer-urls=http://${address}:2380"
          "--initial-cluster=${pdMembers}"
        ];
      };
      tikv = {
        image = "pingcap/tikv:${tidbVersion}";
        extraOptions = [ "--network=host" ];
        volumes = [ "/var/lib/tikv:/data" ];
        dependsOn = [ "pd" ];
        cmd = [
          "--addr=0.0.0.0:20160"
          "--advertise-addr=${address}:20160"
          "--status-addr=0.0.0.0:20180"
          "--data-dir=/data"
          "--pd=${pdEndpoints}"
        ];
      };
    };
  };
  systemd.tmpfiles.rules = [
    "d /var/lib/pd 0700 root root -"
    "d /var/lib/tikv 0700 root root -"
  ];
  systemd.services.surrealdb.after = [ "podman-tikv.service" ];

  # NATS client + cluster, PD client + peer, TiKV: on the private network only.
  networking.firewall.interfaces.wg0.allowedTCPPorts = [ 4222 6222 2379 2380 20160 ];
}
