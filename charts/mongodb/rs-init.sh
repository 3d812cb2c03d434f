#!/bin/bash
# Initiates replica set ${REPLICA_SET} once all members answer; does nothing when it already exists.
# Then creates (or updates the password of) the two application users:
# - rocketchat: readWrite on its database, read on `local` (RocketChat tails the oplog);
# - mongo-listener: a role with only `find` and `changeStream` on rocketchat.rocketchat_message, what
#   a change stream with updateLookup needs.
set -euo pipefail
password="$$(cat /run/secrets/root_password)"
for host in mongo1 mongo2 mongo3; do
  until mongosh --quiet --host "$$host" --eval 'db.adminCommand("ping").ok' >/dev/null 2>&1; do sleep 2; done
done
mongosh --quiet --host mongo1 -u root -p "$$password" --authenticationDatabase admin --eval '
  try { rs.status().ok && print("replica set already initiated") }
  catch (e) {
    rs.initiate({ _id: "${REPLICA_SET}", members: [
      { _id: 0, host: "mongo1:27017", priority: 2 },
      { _id: 1, host: "mongo2:27017", priority: 1 },
      { _id: 2, host: "mongo3:27017", priority: 1 }
    ] });
    print("replica set initiated");
  }'

listener_password="$$(cat /run/secrets/listener_password)"
until mongosh --quiet --host mongo1 -u root -p "$$password" --authenticationDatabase admin --eval 'db.hello().isWritablePrimary' | grep -q true; do sleep 2; done
LISTENER_PASSWORD="$$listener_password" mongosh --quiet --host mongo1 -u root -p "$$password" --authenticationDatabase admin --eval '
  const admin = db.getSiblingDB("admin");
  const privileges = [{ resource: { db: "rocketchat", collection: "rocketchat_message" }, actions: ["find", "changeStream"] }];
  if (admin.getRole("rocketchatMessageStream")) admin.updateRole("rocketchatMessageStream", { privileges, roles: [] });
  else admin.createRole({ role: "rocketchatMessageStream", privileges, roles: [] });
  const pwd = process.env.LISTENER_PASSWORD;
  if (admin.getUser("mongo-listener")) admin.updateUser("mongo-listener", { pwd, roles: ["rocketchatMessageStream"] });
  else admin.createUser({ user: "mongo-listener", pwd, roles: ["rocketchatMessageStream"] });
  print("mongo-listener user ready");'

rocketchat_password="$$(cat /run/secrets/rocketchat_password)"
ROCKETCHAT_PASSWORD="$$rocketchat_password" mongosh --quiet --host mongo1 -u root -p "$$password" --authenticationDatabase admin --eval '
  const admin = db.getSiblingDB("admin");
  const roles = [{ role: "readWrite", db: "rocketchat" }, { role: "read", db: "local" }];
  const pwd = process.env.ROCKETCHAT_PASSWORD;
  if (admin.getUser("rocketchat")) admin.updateUser("rocketchat", { pwd, roles });
  else admin.createUser({ user: "rocketchat", pwd, roles });
  print("rocketchat user ready");'
