import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigMap, PersistentVolumeClaim, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { CHART_DIR, helm, renderChart, type K8sObject } from './helm.js';
import { RECORDS_SETTINGS, recordsConfigFromEnv } from '../../records/config.js';
import { LIFECYCLE_SETTINGS, lifecycleConfigFromEnv } from '../../records/lifecycle/config.js';

const PRODUCTION = join(CHART_DIR, 'values-production.example.yaml');

/** Kubernetes API schema validation of one rendered object (kubernetes-models). */
const MODELS: Record<string, (object: K8sObject) => { validate(): void }> = {
  'v1/ConfigMap': (o) => new ConfigMap(o as never),
  'v1/Service': (o) => new Service(o as never),
  'v1/ServiceAccount': (o) => new ServiceAccount(o as never),
  'v1/PersistentVolumeClaim': (o) => new PersistentVolumeClaim(o as never),
  'apps/v1/Deployment': (o) => new Deployment(o as never),
  'batch/v1/Job': (o) => new Job(o as never),
  'autoscaling/v2/HorizontalPodAutoscaler': (o) => new HorizontalPodAutoscaler(o as never),
  'networking.k8s.io/v1/Ingress': (o) => new Ingress(o as never),
  'networking.k8s.io/v1/NetworkPolicy': (o) => new NetworkPolicy(o as never),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o as never),
};

/** Custom resources (KEDA, Prometheus Operator) have no schema in kubernetes-models: checked by the tests that render them. */
const isCustomResource = (object: K8sObject) => /^(keda\.sh|monitoring\.coreos\.com)\//.test(object.apiVersion);

function validateAll(objects: K8sObject[]): void {
  for (const object of objects.filter((o) => !isCustomResource(o))) {
    const model = MODELS[`${object.apiVersion}/${object.kind}`];
    if (model === undefined) throw new Error(`no schema for ${object.apiVersion} ${object.kind} (${object.metadata.name})`);
    try {
      model(object).validate();
    } catch (error) {
      throw new Error(`${object.kind} ${object.metadata.name} does not validate: ${(error as Error).message}`);
    }
  }
}

interface PodSpec {
  terminationGracePeriodSeconds?: number;
  securityContext: Record<string, unknown>;
  containers: Array<{
    name: string;
    args: string[];
    securityContext: { runAsNonRoot: boolean; readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean; capabilities: { drop: string[] }; seccompProfile: { type: string } };
    resources: { requests: Record<string, string>; limits: Record<string, string> };
    readinessProbe?: { httpGet?: { path: string; port: string } };
    livenessProbe?: { httpGet?: { path: string; port: string } };
    ports?: Array<{ name: string; containerPort: number }>;
    env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
    volumeMounts: Array<{ name: string; mountPath: string }>;
  }>;
  volumes: Array<{ name: string; emptyDir?: { medium?: string; sizeLimit?: string }; persistentVolumeClaim?: unknown; secret?: unknown }>;
}

const deployment = (objects: K8sObject[], component: string) => {
  const found = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === `chaperone-${component}`);
  if (found === undefined) throw new Error(`no Deployment chaperone-${component}`);
  return found as K8sObject & { spec: { replicas?: number; template: { metadata: { annotations: Record<string, string> }; spec: PodSpec } } };
};

let dir: string;
const valuesFile = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chaperone-helm-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('helm chart helm/chaperone, with a real helm', () => {
  test('helm lint passes for the defaults and the production example', () => {
    for (const args of [[], ['-f', PRODUCTION]]) {
      const result = helm(['lint', CHART_DIR, '--strict', ...args]);
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
      expect(result.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  test('default values render objects that all validate against the Kubernetes schemas', () => {
    const objects = renderChart();
    validateAll(objects);
    // Recorders are pointed at the in-cluster key service, not at its listen address.
    const keyservice = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'chaperone-keyservice') as K8sObject & { data: Record<string, string> };
    expect(keyservice.data).toMatchObject({ KEYSERVICE_PUBLIC_HTTP_URL: 'http://chaperone-keyservice:8443', KEYSERVICE_PUBLIC_WS_URL: 'ws://chaperone-keyservice:8443/mls' });
    const recorder = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'chaperone-recorder') as K8sObject & { data: Record<string, string> };
    expect(recorder.data.CHAPERONE_KEY_SERVICE_URL).toBe('http://chaperone-keyservice:8443');
    const kinds = objects.map((o) => o.kind).sort();
    expect(kinds).toEqual([
      ...Array<string>(4).fill('ConfigMap'),
      ...Array<string>(5).fill('Deployment'),
      'Job',
      ...Array<string>(5).fill('NetworkPolicy'),
      'PersistentVolumeClaim',
      ...Array<string>(5).fill('PodDisruptionBudget'),
      'Service',
      'Service',
      'ServiceAccount',
    ]);
  });

  test('the production example renders objects that all validate, with HPAs, an Ingress and a shared encrypted spool', () => {
    const objects = renderChart([PRODUCTION]);
    validateAll(objects);
    expect(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler').map((o) => o.metadata.name)).toEqual(['chaperone-recorder', 'chaperone-pipeline']);
    expect(objects.filter((o) => o.kind === 'Ingress').map((o) => o.metadata.name)).toEqual(['chaperone-keyservice', 'chaperone-records']);
    const claim = objects.find((o) => o.kind === 'PersistentVolumeClaim') as K8sObject & { spec: { accessModes: string[]; storageClassName: string } };
    expect(claim.spec).toMatchObject({ accessModes: ['ReadWriteMany'], storageClassName: 'efs-encrypted' });
    for (const component of ['recorder', 'pipeline']) {
      const workload = deployment(objects, component);
      expect(workload.spec.replicas).toBeUndefined(); // the HPA owns it
      expect(workload.spec.template.spec.volumes.find((v) => v.name === 'spool')?.persistentVolumeClaim).toEqual({ claimName: 'chaperone-spool' });
    }
    const sa = objects.find((o) => o.kind === 'ServiceAccount')!;
    expect(sa.metadata.annotations?.['eks.amazonaws.com/role-arn']).toMatch(/^arn:aws:iam::/);
    const env = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'chaperone-keyservice') as K8sObject & { data: Record<string, string> };
    expect(env.data).toMatchObject({ CHAPERONE_ENV: 'production', KEYSERVICE_HOST: '0.0.0.0' });
    expect(env.data.KEYSERVICE_DEV_TOKEN_SECRET_FILE).toBeUndefined();
  });

  test('a memory-backed spool renders for a recorder alone, and is refused beside the pipeline until the seal queue routes jobs to their pod', () => {
    const alone = renderChart([], ['--set', 'recorder.spool.type=memory', '--set', 'pipeline.enabled=false']);
    validateAll(alone);
    const pod = deployment(alone, 'recorder').spec.template.spec;
    expect(pod.volumes.find((v) => v.name === 'spool')?.emptyDir).toEqual({ medium: 'Memory', sizeLimit: '20480Mi' });
    // The memory spool counts against the memory limit: 5836Mi for the calls, 1024Mi /dev/shm, 256Mi /tmp, 20480Mi spool.
    expect(pod.containers[0]!.resources.limits.memory).toBe('27596Mi');
    expect(alone.some((o) => o.kind === 'PersistentVolumeClaim')).toBe(false);
    const refused = helm(['template', 'chaperone', CHART_DIR, '--set', 'recorder.spool.type=memory']);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/recorder\.spool\.type: memory needs each seal job routed/);
  });

  test('no Secret is rendered and no credential sits in a ConfigMap or env value: Secrets are only referenced', () => {
    for (const objects of [renderChart(), renderChart([PRODUCTION])]) {
      expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
      const text = JSON.stringify(objects.filter((o) => o.kind === 'ConfigMap'));
      expect(text).not.toMatch(/(redis|rediss|postgres|postgresql):\/\//);
      for (const component of ['keyservice', 'recorder']) {
        for (const container of deployment(objects, component).spec.template.spec.containers) {
          for (const variable of container.env ?? []) {
            if (/URL|SECRET|TOKEN/.test(variable.name) && !variable.name.endsWith('_FILE')) expect(variable.valueFrom).toHaveProperty('secretKeyRef');
          }
        }
      }
    }
  });

  test('every pod runs non-root with a read-only root, no capabilities, RuntimeDefault seccomp, probes and resources, and restarts on a config change', () => {
    const objects = renderChart([PRODUCTION]);
    for (const component of ['keyservice', 'recorder', 'pipeline', 'records', 'lifecycle']) {
      const template = deployment(objects, component).spec.template;
      expect(template.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
      expect(template.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      for (const container of template.spec.containers) {
        expect(container.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
        expect(container.readinessProbe).toBeDefined();
        expect(container.livenessProbe).toBeDefined();
        expect(container.resources.requests).toHaveProperty('cpu');
        expect(container.resources.limits).toHaveProperty('memory');
      }
    }
    // A different configuration changes the checksum, so pods roll.
    const other = renderChart([PRODUCTION, valuesFile('calls.yaml', 'recorder:\n  maxConcurrentCalls: 2\n')]);
    expect(deployment(other, 'recorder').spec.template.metadata.annotations['checksum/config']).not.toBe(deployment(objects, 'recorder').spec.template.metadata.annotations['checksum/config']);
  });

  test('the recorder drains for an hour, has a Chromium-sized /dev/shm, and is sized per call from the benchmark', () => {
    const objects = renderChart();
    const pod = deployment(objects, 'recorder').spec.template.spec;
    expect(pod.terminationGracePeriodSeconds).toBe(3600);
    expect(pod.volumes.find((v) => v.name === 'dshm')?.emptyDir).toEqual({ medium: 'Memory', sizeLimit: '1024Mi' });
    expect(pod.containers[0]!.volumeMounts).toContainEqual({ name: 'dshm', mountPath: '/dev/shm' });
    // 4 calls x (150m, 1331Mi) + base (250m, 512Mi); the memory limit adds the memory-backed /dev/shm and /tmp.
    expect(pod.containers[0]!.resources).toEqual({ requests: { cpu: '850m', memory: '5836Mi' }, limits: { cpu: '1700m', memory: '7116Mi' } });
    // /dev/shm is sized, so Chromium uses it (bot/chromium.ts drops --disable-dev-shm-usage): /tmp holds profiles only.
    expect(pod.volumes.find((v) => v.name === 'tmp')?.emptyDir).toEqual({ medium: 'Memory', sizeLimit: '256Mi' });
    const one = deployment(renderChart([], ['--set', 'recorder.maxConcurrentCalls=1', '--set', 'recorder.perCall.memoryMi=2048']), 'recorder');
    expect(one.spec.template.spec.containers[0]!.resources.requests).toEqual({ cpu: '400m', memory: '2560Mi' });
  });

  test('network policies: only Prometheus may connect to a recorder or a pipeline worker, and only to the ops port; the key service admits recorders and the ingress namespace', () => {
    const policies = renderChart().filter((o) => o.kind === 'NetworkPolicy') as Array<K8sObject & { spec: { ingress: unknown[]; policyTypes: string[] } }>;
    expect(policies.map((p) => p.metadata.name).sort()).toEqual(['chaperone-keyservice', 'chaperone-lifecycle', 'chaperone-pipeline', 'chaperone-recorder', 'chaperone-records']);
    for (const policy of policies) expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const prometheusOnly = [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: 9464 }] }];
    expect(policies.find((p) => p.metadata.name === 'chaperone-recorder')!.spec.ingress).toEqual(prometheusOnly);
    expect(policies.find((p) => p.metadata.name === 'chaperone-pipeline')!.spec.ingress).toEqual(prometheusOnly);
    expect(policies.find((p) => p.metadata.name === 'chaperone-lifecycle')!.spec.ingress).toEqual(prometheusOnly);
    const keyservice = policies.find((p) => p.metadata.name === 'chaperone-keyservice')!.spec.ingress;
    expect(keyservice).toHaveLength(2);
    expect(keyservice[1]).toEqual(prometheusOnly[0]);
    // Records: the ingress namespace to its API port, Prometheus to the ops port; out only to what it uses (no Redis).
    const records = policies.find((p) => p.metadata.name === 'chaperone-records')!.spec as unknown as { ingress: unknown[]; egress: Array<{ to: Array<{ ipBlock?: { cidr: string } }>; ports: Array<{ port: number }> }> };
    expect(records.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }], ports: [{ protocol: 'TCP', port: 8444 }] }, prometheusOnly[0]]);
    expect(records.egress.flatMap((rule) => rule.ports.map((p) => p.port)).sort((a, b) => a - b)).toEqual([53, 53, 443, 5432]);
    const lifecycle = policies.find((p) => p.metadata.name === 'chaperone-lifecycle')!.spec as unknown as typeof records;
    expect(lifecycle.egress.flatMap((rule) => rule.ports.map((p) => p.port)).sort((a, b) => a - b)).toEqual([53, 53, 443, 5432, 6379]);
  });

  test('every service is probed on its ops listener: liveness /healthz, readiness /readyz, and told to open it on all interfaces', () => {
    for (const objects of [renderChart(), renderChart([PRODUCTION])]) {
      for (const component of ['keyservice', 'recorder', 'pipeline', 'records', 'lifecycle']) {
        const template = deployment(objects, component).spec.template;
        expect(template.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9464', 'prometheus.io/path': '/metrics' });
        const container = template.spec.containers[0]!;
        expect(container.ports).toContainEqual({ name: 'ops', containerPort: 9464, protocol: 'TCP' });
        expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'ops' });
        expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'ops' });
      }
      for (const name of ['chaperone-keyservice', 'chaperone-recorder', 'chaperone-records', 'chaperone-lifecycle']) {
        const map = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name) as K8sObject & { data: Record<string, string> };
        expect(map.data).toMatchObject({ CHAPERONE_OPS_HOST: '0.0.0.0', CHAPERONE_OPS_PORT: '9464' });
      }
      expect(deployment(objects, 'pipeline').spec.template.spec.containers[0]!.env).toEqual(
        expect.arrayContaining([{ name: 'CHAPERONE_OPS_HOST', value: '0.0.0.0' }, { name: 'CHAPERONE_OPS_PORT', value: '9464' }]),
      );
    }
  });

  test('the database migration runs first, as a pre-install/pre-upgrade hook Job of the same image, from a referenced Secret', () => {
    type JobObject = K8sObject & { spec: { backoffLimit: number; template: { spec: PodSpec & { restartPolicy: string; serviceAccountName?: string } } } };
    for (const [values, secret] of [[[], 'chaperone-postgres'], [[PRODUCTION], 'chaperone-postgres-owner']] as const) {
      const job = renderChart([...values]).find((o) => o.kind === 'Job') as JobObject;
      expect(job.metadata.annotations).toMatchObject({ 'helm.sh/hook': 'pre-install,pre-upgrade', 'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded' });
      const pod = job.spec.template.spec;
      expect(pod.restartPolicy).toBe('Never');
      // It runs before the chart's ServiceAccount exists.
      expect(pod.serviceAccountName).toBeUndefined();
      const container = pod.containers[0]!;
      expect(container.args).toEqual(['migrate']);
      expect(container.env).toContainEqual({ name: 'CHAPERONE_DATABASE_URL', valueFrom: { secretKeyRef: { name: secret, key: 'url' } } });
      expect(container.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    }
    expect(renderChart([], ['--set', 'migrations.enabled=false']).some((o) => o.kind === 'Job')).toBe(false);
  });

  test('the production example scrapes every component with a PodMonitor on the ops port', () => {
    const monitors = renderChart([PRODUCTION]).filter((o) => o.kind === 'PodMonitor') as Array<K8sObject & { spec: { selector: { matchExpressions: Array<{ values: string[] }> }; podMetricsEndpoints: Array<{ port: string; path: string }> } }>;
    expect(monitors).toHaveLength(1);
    expect(monitors[0]!.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitors[0]!.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
    expect(monitors[0]!.spec.selector.matchExpressions[0]!.values).toEqual(['keyservice', 'recorder', 'pipeline', 'records', 'lifecycle']);
    expect(monitors[0]!.spec.podMetricsEndpoints).toEqual([{ port: 'ops', path: '/metrics', interval: '30s' }]);
    expect(renderChart().some((o) => o.kind === 'PodMonitor')).toBe(false);
  });

  test('KEDA mode renders a ScaledObject per scaled workload on the BullMQ wait lists', () => {
    const objects = renderChart([], ['--set', 'autoscaling.mode=keda']);
    validateAll(objects);
    const scaled = objects.filter((o) => o.kind === 'ScaledObject') as Array<K8sObject & { spec: { scaleTargetRef: { name: string }; triggers: Array<{ type: string; metadata: Record<string, string> }> } }>;
    expect(scaled.map((s) => [s.apiVersion, s.spec.scaleTargetRef.name, s.spec.triggers[0]!.type])).toEqual([
      ['keda.sh/v1alpha1', 'chaperone-recorder', 'redis'],
      ['keda.sh/v1alpha1', 'chaperone-pipeline', 'redis'],
    ]);
    for (const name of ['chaperone-recorder', 'chaperone-pipeline']) expect(objects.some((o) => o.kind === 'Deployment' && o.metadata.name === name)).toBe(true);
    // BullMQ's wait lists: <prefix>:<queue>:wait (record jobs: BullMQ's default prefix; seal segments: "chaperone").
    expect(scaled.map((s) => s.spec.triggers[0]!.metadata.listName)).toEqual(['bull:chaperone-record:wait', 'chaperone:chaperone-seal-segment:wait']);
  });

  test('a values file with an unknown key is rejected by the schema, for lint and template, naming the key', () => {
    const top = valuesFile('unknown-top.yaml', 'recorderz:\n  replicas: 3\n');
    const nested = valuesFile('unknown-nested.yaml', 'recorder:\n  spool:\n    tpye: memory\n');
    const monitor = valuesFile('unknown-monitor.yaml', 'metrics:\n  podMonitor:\n    enabld: true\n');
    const records = valuesFile('unknown-records.yaml', 'records:\n  workDir:\n    medim: Memory\n');
    const lifecycle = valuesFile('unknown-lifecycle.yaml', 'lifecycle:\n  sweepEvery: 60000\n');
    for (const [file, key] of [[top, 'recorderz'], [nested, 'tpye'], [monitor, 'enabld'], [records, 'medim'], [lifecycle, 'sweepEvery']] as const) {
      for (const command of ['lint', 'template']) {
        const result = helm([command, CHART_DIR, '-f', file]);
        expect(result.status).not.toBe(0);
        expect(result.stdout + result.stderr).toMatch(new RegExp(`additional properties '${key}' not allowed`));
      }
    }
  });

  test('production refuses development shortcuts at render time, naming the value', () => {
    const cases: Array<[string, RegExp]> = [
      ['keyService:\n  tokens:\n    devSecret:\n      existingSecret: dev\n', /keyService\.tokens\.devSecret/],
      ['keyService:\n  externalSender:\n    kmsKeyId: ""\n', /keyService\.externalSender\.kmsKeyId/],
      ['recorder:\n  devTokenSecret:\n    existingSecret: dev\n', /recorder\.devTokenSecret/],
      ['image:\n  digest: ""\n', /image\.digest/],
      ['records:\n  tokens:\n    devSecret:\n      existingSecret: dev\n', /records\.tokens\.devSecret/],
      ['records:\n  tokens:\n    jwksUrl: http://auth.example/jwks\n', /records\.tokens\.jwksUrl/],
      ['records:\n  playbackKey:\n    existingSecret: ""\n', /records\.playbackKey/],
      ['records:\n  insecureCookies: true\n', /records\.insecureCookies/],
    ];
    for (const [index, [text, field]] of cases.entries()) {
      const result = helm(['template', 'chaperone', CHART_DIR, '-f', PRODUCTION, '-f', valuesFile(`prod-${index}.yaml`, text)]);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(field);
    }
  });

  test('the records service and the lifecycle process: the pipeline configuration Secret, sized resources, a memory work dir counted in the limit, drain periods', () => {
    const objects = renderChart([PRODUCTION]);
    const records = deployment(objects, 'records').spec;
    expect(records.replicas).toBe(2);
    const pod = records.template.spec;
    expect(pod.terminationGracePeriodSeconds).toBe(300);
    expect(pod.containers[0]!.args).toEqual(['records']);
    expect(pod.containers[0]!.ports).toContainEqual({ name: 'http', containerPort: 8444, protocol: 'TCP' });
    // 1024Mi for the process plus the 1024Mi memory-backed work directory of derivative renders.
    expect(pod.containers[0]!.resources).toEqual({ requests: { cpu: '250m', memory: '384Mi' }, limits: { cpu: '2', memory: '2048Mi' } });
    expect(pod.volumes.find((v) => v.name === 'work')?.emptyDir).toEqual({ medium: 'Memory', sizeLimit: '1024Mi' });
    expect(pod.volumes.find((v) => v.name === 'seal-config')?.secret).toEqual({ secretName: 'chaperone-seal-config', defaultMode: 0o400 });
    expect(pod.volumes.find((v) => v.name === 'playback-key')?.secret).toEqual({ secretName: 'chaperone-records-playback-key', defaultMode: 0o400 });
    const onDisk = deployment(renderChart([PRODUCTION], ['--set', 'records.workDir.medium=']), 'records').spec.template.spec;
    expect(onDisk.containers[0]!.resources.limits.memory).toBe('1024Mi');
    expect(onDisk.volumes.find((v) => v.name === 'work')?.emptyDir).toEqual({ sizeLimit: '1024Mi' });

    const lifecycle = deployment(objects, 'lifecycle').spec;
    expect(lifecycle.replicas).toBe(1);
    expect(lifecycle.template.spec.terminationGracePeriodSeconds).toBe(600);
    expect(lifecycle.template.spec.containers[0]!.args).toEqual(['lifecycle']);
    expect(lifecycle.template.spec.containers[0]!.ports).toEqual([{ name: 'ops', containerPort: 9464, protocol: 'TCP' }]);
    expect(objects.some((o) => o.kind === 'Service' && o.metadata.name === 'chaperone-lifecycle')).toBe(false);
    const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget') as Array<K8sObject & { spec: Record<string, unknown> }>;
    expect(budgets.find((b) => b.metadata.name === 'chaperone-records')!.spec).toMatchObject({ minAvailable: 1 });
    expect(budgets.find((b) => b.metadata.name === 'chaperone-lifecycle')!.spec).toMatchObject({ maxUnavailable: 1 });

    const disabled = renderChart([], ['--set', 'records.enabled=false', '--set', 'lifecycle.enabled=false']);
    validateAll(disabled);
    expect(disabled.filter((o) => /chaperone-(records|lifecycle)$/.test(o.metadata.name))).toEqual([]);
  });

  test("the rendered records and lifecycle ConfigMaps are accepted by the services' own configuration (no unknown name, production complete)", () => {
    type Map = K8sObject & { data: Record<string, string> };
    const objects = renderChart([PRODUCTION]);
    const records = (objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'chaperone-records') as Map).data;
    const lifecycle = (objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'chaperone-lifecycle') as Map).data;
    expect(Object.keys(records).filter((name) => !([...RECORDS_SETTINGS, 'CHAPERONE_ENV'] as string[]).includes(name))).toEqual([]);
    expect(Object.keys(lifecycle).filter((name) => !([...LIFECYCLE_SETTINGS, 'CHAPERONE_ENV'] as string[]).includes(name))).toEqual([]);
    expect(lifecycleConfigFromEnv(lifecycle)).toEqual({ production: true, sealConfigPath: '/etc/chaperone/seal/seal.json', everyMs: 3_600_000, ops: { host: '0.0.0.0', port: 9464 } });
    // The mounted Secret's file stands in here: a playback key of 32 random-looking bytes.
    const playbackKey = join(dir, 'playback-key');
    writeFileSync(playbackKey, Buffer.alloc(32, 9));
    expect(records.CHAPERONE_RECORDS_PLAYBACK_KEY_FILE).toBe('/etc/chaperone/secrets/playback-key/key');
    const config = recordsConfigFromEnv({ ...records, CHAPERONE_RECORDS_PLAYBACK_KEY_FILE: playbackKey });
    expect(config).toMatchObject({ production: true, host: '0.0.0.0', port: 8444, secureCookies: true, workDir: '/run/chaperone/records', ops: { host: '0.0.0.0', port: 9464 } });
    expect(config.tokens).toMatchObject({ kind: 'jwt', jwksUrl: 'https://auth.example-health.com/.well-known/jwks.json', audience: 'chaperone-records', algorithms: ['EdDSA', 'ES256'] });
  });
});
