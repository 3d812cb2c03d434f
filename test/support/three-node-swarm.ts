// The rig lives beside its script (the demo uses it too); the tests import it from here.
export * from '../../scripts/three-node-swarm.ts';
