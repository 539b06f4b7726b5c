// pgfloat's version, of the agent and the CLI alike: package.json's "version" (a test holds the two equal).
// A constant rather than a read of package.json, so the bundle carries it.
export const VERSION = '0.1.0';
