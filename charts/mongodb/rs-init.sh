#!/bin/bash
# Initiates replica set ${REPLICA_SET} once all members answer; does nothing when it already exists.
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
