// The Azure SDKs for JavaScript against acremu, as e2e/jssdk_test.go runs
// them: @azure/identity's ClientSecretCredential at acremu's authority,
// @azure/arm-resources and @azure/arm-containerregistry on its ARM endpoint,
// @azure/container-registry on a registry's data plane (AAD and anonymous).
//
// Every step prints one JSON line, {"step": name, ...what it saw}, or
// {"step": name, "error": {...}} and exits 1. The "push" step prints the
// registry's login server and admin credentials and waits for one line on
// stdin: the test pushes an image meanwhile.
//
// Input (environment): ACREMU_ARM (https://127.0.0.1:port), ACREMU_TENANT,
// ACREMU_CLIENT_ID, ACREMU_CLIENT_SECRET, ACREMU_SUBSCRIPTION, ACREMU_RULE
// (the address acremu sees for this host), ACREMU_REPO and ACREMU_TAG (the
// image the test pushes). NODE_EXTRA_CA_CERTS must name acremu's CA.
import net from "node:net";
import readline from "node:readline";
import { ClientSecretCredential } from "@azure/identity";
import { ResourceManagementClient } from "@azure/arm-resources";
import { ContainerRegistryManagementClient } from "@azure/arm-containerregistry";
import { ContainerRegistryClient } from "@azure/container-registry";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

// Every TCP connection this process opens, to prove it never left loopback.
const dialed = new Set();
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  let opts = args[0];
  if (Array.isArray(opts)) opts = opts[0];
  const host = typeof opts === "object" && opts !== null ? (opts.host ?? "localhost") : (typeof args[1] === "string" ? args[1] : "localhost");
  if (typeof opts === "object" && opts !== null && opts.path) {
    return connect.apply(this, args); // a Unix socket
  }
  dialed.add(host);
  if (!["127.0.0.1", "localhost", "::1"].includes(host)) {
    throw new Error(`refusing to connect to ${host}: only loopback is allowed`);
  }
  return connect.apply(this, args);
};

const arm = env("ACREMU_ARM");
const tenant = env("ACREMU_TENANT");
const clientId = env("ACREMU_CLIENT_ID");
const clientSecret = env("ACREMU_CLIENT_SECRET");
const subscription = env("ACREMU_SUBSCRIPTION");
const rule = env("ACREMU_RULE");
const repo = env("ACREMU_REPO");
const tag = env("ACREMU_TAG");
const rg = "jssdkrg";
const reg = "jssdkregistry";
const location = "eastus";

// ADFS-style authority, as for Azure Stack: tenant "adfs", no instance
// discovery. The tenant id works too (Entra's v2.0 discovery document).
const adfsCred = new ClientSecretCredential("adfs", clientId, clientSecret, {
  authorityHost: arm,
  disableInstanceDiscovery: true,
});
const tenantCred = new ClientSecretCredential(tenant, clientId, clientSecret, {
  authorityHost: arm,
  disableInstanceDiscovery: true,
});
const scopes = [`${arm}/.default`];
const groups = new ResourceManagementClient(adfsCred, subscription, { endpoint: arm, $host: arm, credentialScopes: scopes });
const acr = new ContainerRegistryManagementClient(adfsCred, subscription, { endpoint: arm });

const out = (step, fields) => process.stdout.write(JSON.stringify({ step, ...fields }) + "\n");

// errorOf is what a test needs to know of a failure.
const errorOf = (e) => ({
  name: e?.name,
  message: String(e?.message ?? e),
  statusCode: e?.statusCode,
  code: e?.code,
  errorCode: e?.details?.errorCode,
});

// expectError runs fn, which must fail, and returns the failure.
const expectError = async (fn) => {
  try {
    await fn();
  } catch (e) {
    return errorOf(e);
  }
  throw new Error("the call succeeded; an error was expected");
};

// claims decodes a JWT's payload (no verification: the test only reads it).
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

const all = async (iter) => {
  const res = [];
  for await (const x of iter) res.push(x);
  return res;
};

const registryView = (r) => ({
  id: r.id,
  name: r.name,
  type: r.type,
  sku: r.sku?.name,
  tier: r.sku?.tier,
  provisioningState: r.provisioningState,
  loginServer: r.loginServer,
  adminUserEnabled: r.adminUserEnabled,
  anonymousPullEnabled: r.anonymousPullEnabled,
  publicNetworkAccess: r.publicNetworkAccess,
  defaultAction: r.networkRuleSet?.defaultAction,
  ipRules: (r.networkRuleSet?.ipRules ?? []).map((x) => `${x.action}:${x.iPAddressOrRange}`),
});

let registry; // the created registry
let stdin;

const steps = [
  ["token", async () => {
    const a = await adfsCred.getToken(scopes);
    const b = await tenantCred.getToken(scopes);
    const ca = claims(a.token);
    const cb = claims(b.token);
    return {
      adfs: { aud: ca.aud, appid: ca.appid, tid: ca.tid, expiresInFuture: a.expiresOnTimestamp > Date.now() },
      tenant: { aud: cb.aud, appid: cb.appid, tid: cb.tid, expiresInFuture: b.expiresOnTimestamp > Date.now() },
    };
  }],

  ["resource group", async () => {
    const g = await groups.resourceGroups.createOrUpdate(rg, { location });
    return { name: g.name, location: g.location, provisioningState: g.properties?.provisioningState };
  }],

  ["create a Premium registry", async () => {
    const avail = await acr.registries.checkNameAvailability({ name: reg, type: "Microsoft.ContainerRegistry/registries" });
    registry = await acr.registries.create(rg, reg, {
      location,
      sku: { name: "Premium" },
      adminUserEnabled: true,
    });
    return { nameAvailable: avail.nameAvailable, registry: registryView(registry) };
  }],

  ["Deny and an IP rule", async () => {
    const r = await acr.registries.update(rg, reg, {
      networkRuleSet: { defaultAction: "Deny", ipRules: [{ action: "Allow", iPAddressOrRange: rule }] },
    });
    const got = await acr.registries.get(rg, reg);
    return { updated: registryView(r), got: registryView(got) };
  }],

  ["an invalid IP rule is refused", async () => {
    const refusal = await expectError(() => acr.registries.update(rg, reg, {
      networkRuleSet: { defaultAction: "Deny", ipRules: [{ action: "Allow", iPAddressOrRange: "192.168.1.0/24" }] },
    }));
    const got = await acr.registries.get(rg, reg);
    return { refusal, after: registryView(got) };
  }],

  ["list credentials", async () => {
    const c = await acr.registries.listCredentials(rg, reg);
    return { username: c.username, passwords: (c.passwords ?? []).map((p) => ({ name: p.name, length: p.value?.length ?? 0 })) };
  }],

  ["list replications", async () => {
    const list = await all(acr.replications.list(rg, reg));
    return { replications: list.map((x) => ({ name: x.name, location: x.location, type: x.type, provisioningState: x.provisioningState })) };
  }],

  ["push", async () => {
    const c = await acr.registries.listCredentials(rg, reg);
    out("push", { loginServer: registry.loginServer, username: c.username, password: c.passwords[0].value });
    const line = await new Promise((resolve, reject) => {
      stdin.once("line", resolve);
      stdin.once("close", () => reject(new Error("stdin closed before the image was pushed")));
    });
    return { pushed: line.trim() };
  }],

  ["data plane with the AAD credential", async () => {
    const client = new ContainerRegistryClient(`https://${registry.loginServer}`, tenantCred, { audience: arm });
    const names = await all(client.listRepositoryNames());
    const repository = client.getRepository(repo);
    const rp = await repository.getProperties();
    const artifact = client.getArtifact(repo, tag);
    const tags = await all(artifact.listTagProperties());
    const mp = await artifact.getManifestProperties();
    const manifests = await all(repository.listManifestProperties());
    return {
      repositories: names,
      repository: { name: rp.name, registryLoginServer: rp.registryLoginServer, tagCount: rp.tagCount, manifestCount: rp.manifestCount, canWrite: rp.canWrite, canDelete: rp.canDelete },
      tags: tags.map((t) => ({ name: t.name, repositoryName: t.repositoryName, digest: t.digest, canWrite: t.canWrite })),
      manifest: { digest: mp.digest, repositoryName: mp.repositoryName, tags: mp.tags, sizeInBytes: mp.sizeInBytes, canWrite: mp.canWrite, canDelete: mp.canDelete, canRead: mp.canRead, canList: mp.canList },
      manifests: manifests.map((m) => ({ digest: m.digest, tags: m.tags })),
    };
  }],

  ["manifest properties: lock and unlock", async () => {
    const client = new ContainerRegistryClient(`https://${registry.loginServer}`, tenantCred, { audience: arm });
    const artifact = client.getArtifact(repo, tag);
    const locked = await artifact.updateManifestProperties({ canWrite: false });
    const lockedRead = await artifact.getManifestProperties();
    const unlocked = await artifact.updateManifestProperties({ canWrite: true });
    const unlockedRead = await artifact.getManifestProperties();
    const view = (m) => ({ digest: m.digest, canWrite: m.canWrite, canDelete: m.canDelete, canRead: m.canRead, canList: m.canList });
    return { locked: view(locked), lockedRead: view(lockedRead), unlocked: view(unlocked), unlockedRead: view(unlockedRead) };
  }],

  ["anonymous access", async () => {
    const client = new ContainerRegistryClient(`https://${registry.loginServer}`, { audience: arm });
    const refused = await expectError(() => all(client.listRepositoryNames()));
    const r = await acr.registries.update(rg, reg, { anonymousPullEnabled: true });
    const names = await all(client.listRepositoryNames());
    const tags = await all(client.getArtifact(repo, tag).listTagProperties());
    return { refused, anonymousPullEnabled: r.anonymousPullEnabled, repositories: names, tags: tags.map((t) => t.name) };
  }],

  ["public network access Disabled", async () => {
    const client = new ContainerRegistryClient(`https://${registry.loginServer}`, { audience: arm });
    const r = await acr.registries.update(rg, reg, { publicNetworkAccess: "Disabled" });
    const denied = await expectError(() => all(client.listRepositoryNames()));
    const back = await acr.registries.update(rg, reg, { publicNetworkAccess: "Enabled" });
    const names = await all(client.listRepositoryNames());
    return { disabled: r.publicNetworkAccess, denied, enabled: back.publicNetworkAccess, repositories: names };
  }],

  ["delete", async () => {
    await acr.registries.delete(rg, reg);
    const registryGone = await expectError(() => acr.registries.get(rg, reg));
    await groups.resourceGroups.beginDeleteAndWait(rg);
    const groupGone = await expectError(() => groups.resourceGroups.get(rg));
    return { registryGone, groupGone };
  }],

  ["loopback only", async () => ({ dialed: [...dialed].sort() })],
];

stdin = readline.createInterface({ input: process.stdin });
for (const [name, fn] of steps) {
  try {
    out(name, await fn());
  } catch (e) {
    out(name, { error: errorOf(e), stack: String(e?.stack ?? "") });
    process.exit(1);
  }
}
stdin.close();
process.exit(0);
