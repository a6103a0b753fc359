// deploy/kubernetes keeps in step with the code: the ConfigMap's gateway.yaml and routes.yaml load
// with the gateway's own loader and pass its production checks, the container ports are the ports
// that configuration listens on, the probes ask the admin listener's real health and readiness
// endpoints, every file the configuration names is mounted, the shutdown timings fit together, the
// selectors select the Deployment's pods, and the pod runs non-root on a read-only filesystem.
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, parseDocument } from 'yaml';
import { developmentSettings } from '../../src/config/development.js';
import { loadConfig, type LoadedConfig } from '../../src/config/load.js';
import { contentHash, watchRoutesFile } from '../../src/config/watch.js';
import { createAdminServer } from '../../src/endpoints/admin.js';
import { AdminGuard } from '../../src/endpoints/admin-guard.js';
import { Readiness } from '../../src/endpoints/readiness.js';
import { createLogger } from '../../src/log.js';

const DIR = join(import.meta.dirname, '../../deploy/kubernetes');

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are untyped YAML, read as such */
type K8s = Record<string, any>;

async function manifests(): Promise<K8s[]> {
  const out: K8s[] = [];
  for (const f of (await readdir(DIR)).filter((n) => n.endsWith('.yaml')).sort()) {
    // YAML 1.1, as kubectl reads it (defaultMode: 0440 is octal there).
    for (const doc of parseAllDocuments(await readFile(join(DIR, f), 'utf8'), { version: '1.1' })) {
      expect(doc.errors, f).toEqual([]);
      if (doc.contents) out.push(doc.toJS() as K8s);
    }
  }
  return out;
}

const one = (all: K8s[], kind: string, name?: string): K8s => {
  const found = all.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  expect(found.map((m) => m.metadata.name), `one ${kind}${name ? ` ${name}` : ''}`).toHaveLength(1);
  return found[0] as K8s;
};

/** Seconds of a preStop hook: `sleep N` run by exec, or the kubelet's own sleep action. */
function preStopSeconds(container: K8s): number {
  const hook = container.lifecycle?.preStop;
  if (hook?.sleep) return Number(hook.sleep.seconds);
  const cmd: string[] = hook?.exec?.command ?? [];
  expect(cmd[0], 'preStop is `sleep N`').toBe('sleep');
  return Number(cmd[1]);
}

/**
 * Every file or directory the configuration names, as [key path, path]: keys ending in File or Dir
 * (routesFile, credentialFile, certFile, caFile, clientSecretFile, ...), tokens.keys, errorPages.html
 * and routes' errorPage. Found by walking the loaded configuration, so keys added later are checked too.
 */
function filePaths(value: unknown, at: string): [string, string][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => filePaths(v, `${at}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]): [string, string][] => {
    const key = at ? `${at}.${k}` : k;
    const isPath = /(File|Dir)$/.test(k) || k === 'errorPage' || key === 'tokens.keys' || key === 'errorPages.html';
    return isPath && typeof v === 'string' ? [[key, v]] : filePaths(v, key);
  });
}

let all: K8s[];
let deployment: K8s;
let pod: K8s;
let gateway: K8s;
let config: LoadedConfig;
let env: Record<string, string>;
let configDir: string;
let tmp: string;

beforeAll(async () => {
  all = await manifests();
  deployment = one(all, 'Deployment');
  pod = deployment.spec.template.spec;
  gateway = pod.containers.find((c: K8s) => c.name === 'gateway');
  expect(gateway, 'a container named gateway').toBeDefined();

  // The configuration as the pod reads it: both files of the ConfigMap in one directory, the
  // environment the Deployment sets (a value from a Secret is a placeholder), nothing else.
  const volume = pod.volumes.find((v: K8s) => v.configMap?.name === one(all, 'ConfigMap').metadata.name);
  const mount = gateway.volumeMounts.find((m: K8s) => m.name === volume?.name);
  const configArg = gateway.args[gateway.args.indexOf('--config') + 1] as string;
  expect(mount?.subPath, 'the ConfigMap is mounted as a directory (a subPath mount never updates)').toBeUndefined();
  expect(dirname(configArg), '--config names a file of the mounted ConfigMap').toBe(mount?.mountPath);
  configDir = mount.mountPath;
  tmp = await mkdtemp(join(tmpdir(), 'gw-k8s-'));
  for (const [name, text] of Object.entries(one(all, 'ConfigMap').data as Record<string, string>)) await writeFile(join(tmp, name), text);
  env = Object.fromEntries((gateway.env ?? []).map((e: K8s) => [e.name, e.value ?? `from-${e.valueFrom ? 'secret' : 'nowhere'}`]));
  config = await loadConfig(join(tmp, posix.basename(configArg)), env);
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the ConfigMap', () => {
  it('loads with the gateway\'s loader and passes the production checks', () => {
    expect(config.routes.length).toBeGreaterThan(0);
    expect(developmentSettings(config.gateway)).toEqual([]);
  });

  it('uses an existing Redis through Sentinel or Cluster, and its commented alternative loads too', async () => {
    const redis = config.gateway.redis;
    expect(Boolean(redis.sentinel) !== Boolean(redis.cluster), 'exactly one of redis.sentinel and redis.cluster').toBe(true);
    // The other topology is shown commented out under `redis:`; uncommented in its place, it must load.
    const text = await readFile(config.gatewayFile, 'utf8');
    const other = redis.sentinel ? 'cluster' : 'sentinel';
    const block = new RegExp(`^( *)# ${other}:\\n(?:\\1#   .*\\n)+`, 'm').exec(text);
    expect(block, `a commented ${other}: block`).not.toBeNull();
    // Without each line's indentation and "# ": the block as YAML of its own.
    const alone = (block?.[0] ?? '').replace(new RegExp(`^${block?.[1] ?? ''}# `, 'gm'), '');
    const doc = parseDocument(text);
    doc.deleteIn(['redis', redis.sentinel ? 'sentinel' : 'cluster']);
    doc.setIn(['redis', other], (parse(alone) as K8s)[other]);
    const alt = join(tmp, 'gateway-alternative.yaml');
    await writeFile(alt, String(doc));
    const loaded = await loadConfig(alt, env);
    expect(loaded.gateway.redis[other]).toBeDefined();
  });

  it('puts the routes file where a ConfigMap update reaches it, and watches it', () => {
    expect(dirname(config.routesFile)).toBe(dirname(config.gatewayFile));
    expect(config.gateway.reload.watchFile).toBe(true);
  });

  it('is reloaded when the kubelet swaps the ..data symlink (how ConfigMap volumes are updated)', async () => {
    // The kubelet's layout: files are symlinks through ..data to a timestamped directory, and an
    // update is a new directory plus one rename of ..data.
    const dir = join(tmp, 'volume');
    const version = async (name: string, text: string) => {
      await mkdir(join(dir, name), { recursive: true });
      await writeFile(join(dir, name, 'routes.yaml'), text);
      await symlink(name, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    await version('..2026_01_01_00_00_00.1', 'routes: []\n');
    await symlink('..data/routes.yaml', join(dir, 'routes.yaml'));
    const file = join(dir, 'routes.yaml');
    let reloads = 0;
    const watcher = watchRoutesFile(file, await contentHash(file), () => reloads++, 20, 100);
    try {
      await version('..2026_01_01_00_01_00.2', 'routes: [] # updated\n');
      await expect.poll(() => reloads, { timeout: 3000 }).toBe(1);
    } finally {
      watcher.close();
    }
  });
});

describe('the Deployment', () => {
  it('runs N replicas', () => {
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(3);
  });

  it('exposes exactly the ports the configuration listens on', () => {
    const gw = config.gateway;
    const wanted = [gw.listen.port, gw.listen.tls?.redirectHttpPort, gw.admin.port].filter((p) => p !== undefined).sort();
    expect(gateway.ports.map((p: K8s) => p.containerPort).sort()).toEqual(wanted);
  });

  it('probes the admin listener: liveness stays up while draining, readiness turns 503', async () => {
    const port = (probe: K8s) => gateway.ports.find((p: K8s) => p.name === probe.httpGet.port)?.containerPort ?? probe.httpGet.port;
    expect(port(gateway.livenessProbe)).toBe(config.gateway.admin.port);
    expect(port(gateway.readinessProbe)).toBe(config.gateway.admin.port);
    expect(config.gateway.admin.host, 'the kubelet probes the pod IP').toBe('0.0.0.0');

    // The real admin server, asked the probes' paths as the kubelet asks them (by IP).
    const readiness = new Readiness();
    readiness.configLoaded = true;
    const server = createAdminServer({
      registry: new Registry(),
      readiness,
      logger: createLogger('silent'),
      newRequestId: () => 'k8s-test',
      guard: new AdminGuard({ allowedHosts: config.gateway.admin.allowedHosts, credential: undefined }),
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const status = async (probe: K8s) => (await fetch(base + probe.httpGet.path)).status;
    try {
      expect(await status(gateway.livenessProbe)).toBe(200);
      expect(await status(gateway.readinessProbe)).toBe(200);
      readiness.draining = true;
      expect(await status(gateway.livenessProbe)).toBe(200);
      expect(await status(gateway.readinessProbe)).toBe(503);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('sleeps in preStop at least shutdown.readinessDelay, and gives the whole shutdown time to finish', () => {
    const sleep = preStopSeconds(gateway);
    const { readinessDelay, drainTimeout } = config.gateway.shutdown;
    expect(sleep * 1000).toBeGreaterThanOrEqual(readinessDelay);
    expect(readinessDelay, 'the readiness delay is in use').toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(sleep * 1000 + readinessDelay + drainTimeout);
  });

  it('mounts every file the configuration names', () => {
    const named = [...filePaths(config.gateway, ''), ...filePaths(config.routes, 'routes')];
    expect(named.map(([key]) => key)).toEqual(expect.arrayContaining(['routesFile', 'tokens.keys', 'admin.credentialFile', 'listen.tls.certFile'])); // not blind
    const mounts: string[] = gateway.volumeMounts.map((m: K8s) => m.mountPath);
    // Relative paths are relative to gateway.yaml, i.e. to the ConfigMap's mount in the pod.
    const unmounted = named.filter(([, p]) => {
      const inPod = posix.resolve(configDir, p);
      return !mounts.some((m) => inPod === m || inPod.startsWith(`${m}/`));
    });
    expect(unmounted).toEqual([]);
  });

  it('reads every Secret and ConfigMap it names from the manifests (or cert-manager\'s Certificate)', () => {
    const secrets = new Set([...all.filter((m) => m.kind === 'Secret').map((m) => m.metadata.name), ...all.filter((m) => m.kind === 'Certificate').map((m) => m.spec.secretName)]);
    const maps = new Set(all.filter((m) => m.kind === 'ConfigMap').map((m) => m.metadata.name));
    const used = [
      ...pod.volumes.filter((v: K8s) => v.secret).map((v: K8s) => ['Secret', v.secret.secretName]),
      ...pod.volumes.filter((v: K8s) => v.configMap).map((v: K8s) => ['ConfigMap', v.configMap.name]),
      ...(gateway.env ?? []).filter((e: K8s) => e.valueFrom?.secretKeyRef).map((e: K8s) => ['Secret', e.valueFrom.secretKeyRef.name]),
    ];
    expect(used.filter(([kind, name]) => !(kind === 'Secret' ? secrets : maps).has(name))).toEqual([]);
    // The example Secrets hold placeholders only, never a usable credential.
    const adminToken = all.find((m) => m.kind === 'Secret' && m.metadata.name === 'gateway-admin-token');
    expect(String(adminToken?.stringData?.token ?? '').length).toBeLessThan(32);
  });

  it('runs every container non-root, read-only, without capabilities or privilege escalation', () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      expect(c.securityContext, c.name).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(c.resources?.requests, c.name).toBeDefined();
    }
  });
});

describe('the Services, PodDisruptionBudget and HorizontalPodAutoscaler', () => {
  const podLabels = () => deployment.spec.template.metadata.labels as Record<string, string>;
  const selects = (selector: Record<string, string>) => Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => podLabels()[k] === v);

  it('select the Deployment\'s pods', () => {
    expect(selects(deployment.spec.selector.matchLabels)).toBe(true);
    for (const s of all.filter((m) => m.kind === 'Service')) expect(selects(s.spec.selector), s.metadata.name).toBe(true);
    expect(selects(one(all, 'PodDisruptionBudget').spec.selector.matchLabels)).toBe(true);
    const hpa = one(all, 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(deployment.spec.replicas);
    expect(hpa.spec.maxReplicas).toBeGreaterThanOrEqual(deployment.spec.replicas);
  });

  it('scale on CPU, which the container requests', () => {
    const hpa = one(all, 'HorizontalPodAutoscaler');
    expect(hpa.spec.metrics.some((m: K8s) => m.type === 'Resource' && m.resource.name === 'cpu')).toBe(true);
    expect(gateway.resources.requests.cpu).toBeDefined();
  });

  it('send each Service port to a container port, and the admin port to the cluster only', () => {
    const containerPort = (target: string | number) => gateway.ports.find((p: K8s) => p.name === target || p.containerPort === target)?.containerPort;
    const admin = config.gateway.admin.port;
    for (const s of all.filter((m) => m.kind === 'Service')) {
      const targets = s.spec.ports.map((p: K8s) => containerPort(p.targetPort));
      expect(targets, s.metadata.name).not.toContain(undefined);
      if (targets.includes(admin)) expect(s.spec.type ?? 'ClusterIP', `${s.metadata.name} exposes the admin port`).toBe('ClusterIP');
    }
  });
});
