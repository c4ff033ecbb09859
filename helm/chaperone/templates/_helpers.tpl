{{- define "chaperone.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "chaperone.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "chaperone.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "chaperone.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels for one component: (dict "root" $ "component" "recorder") */}}
{{- define "chaperone.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chaperone.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "chaperone.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "chaperone.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "chaperone.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}

{{- define "chaperone.production" -}}
{{- eq .Values.environment "production" -}}
{{- end -}}

{{/* Pod-level settings shared by every workload. */}}
{{- define "chaperone.podCommon" -}}
serviceAccountName: {{ include "chaperone.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "chaperone.redisEnv" -}}
- name: CHAPERONE_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.external.redis.existingSecret }}
      key: {{ .Values.external.redis.key }}
{{- end -}}

{{- define "chaperone.postgresEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.external.postgres.existingSecret }}
      key: {{ .root.Values.external.postgres.key }}
{{- end -}}

{{/* The recorder's memory request in Mi: base + calls x per call. */}}
{{- define "chaperone.recorderMemoryMi" -}}
{{- add .Values.recorder.base.memoryMi (mul .Values.recorder.maxConcurrentCalls .Values.recorder.perCall.memoryMi) -}}
{{- end -}}

{{- define "chaperone.recorderCpuMilli" -}}
{{- add (trimSuffix "m" .Values.recorder.base.cpu | atoi) (mul .Values.recorder.maxConcurrentCalls (trimSuffix "m" .Values.recorder.perCall.cpu | atoi)) -}}
{{- end -}}

{{- define "chaperone.egressTo" -}}
- to:
  {{- range .cidrs }}
    - ipBlock: { cidr: {{ . }} }
  {{- end }}
  ports:
  {{- range .ports }}
    - { protocol: TCP, port: {{ . }} }
  {{- end }}
{{- end -}}
{{- define "chaperone.dnsEgress" -}}
- to:
    - namespaceSelector: {}
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - { protocol: UDP, port: 53 }
    - { protocol: TCP, port: 53 }
{{- end -}}

{{/* The ops listener's container port and probes (every service: ops/ops-server.ts). */}}
{{- define "chaperone.opsPort" -}}
- name: ops
  containerPort: {{ .Values.ops.port }}
  protocol: TCP
{{- end -}}

{{/* Liveness: /healthz (the process answers). Readiness: /readyz (its dependencies answer). */}}
{{- define "chaperone.opsProbes" -}}
readinessProbe:
  httpGet: { path: /readyz, port: ops }
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
livenessProbe:
  httpGet: { path: /healthz, port: ops }
  initialDelaySeconds: 15
  periodSeconds: 20
  timeoutSeconds: 5
  failureThreshold: 6
{{- end -}}

{{/* Annotation-based Prometheus discovery of the ops listener. */}}
{{- define "chaperone.metricsAnnotations" -}}
{{- if .Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.ops.port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}

{{/* NetworkPolicy ingress rule: Prometheus (metricsNamespaceLabels) may reach the ops port, nothing else. */}}
{{- define "chaperone.metricsIngress" -}}
- from:
    - namespaceSelector:
        matchLabels:
          {{- toYaml .Values.networkPolicy.metricsNamespaceLabels | nindent 10 }}
  ports:
    - { protocol: TCP, port: {{ .Values.ops.port }} }
{{- end -}}
