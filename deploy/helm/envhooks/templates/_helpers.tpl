{{/* Names and labels, as cert-manager's and Grafana's charts make them. */}}

{{- define "envhooks.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "envhooks.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "envhooks.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "envhooks.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "envhooks.selectorLabels" -}}
app.kubernetes.io/name: {{ include "envhooks.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "envhooks.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "envhooks.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "envhooks.secretName" -}}
{{- default (include "envhooks.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{- define "envhooks.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The role web pods run: all of it without workers (and always on the embedded store). */}}
{{- define "envhooks.webRole" -}}
{{- if and (eq .Values.database.kind "postgres") (gt (int .Values.worker.replicas) 0) -}}web{{- else -}}all{{- end -}}
{{- end -}}

{{/*
  Values that cannot work fail the render here, with what to change.
*/}}
{{- define "envhooks.validate" -}}
{{- if not (has .Values.database.kind (list "embedded" "postgres")) -}}
{{- fail (printf "database.kind must be embedded or postgres, not %q" .Values.database.kind) -}}
{{- end -}}
{{- if eq .Values.database.kind "embedded" -}}
{{- if gt (int .Values.web.replicas) 1 -}}
{{- fail "database.kind=embedded serves one process: web.replicas must be 0 or 1 (two pods on one embedded database would corrupt it). Use database.kind=postgres to scale." -}}
{{- end -}}
{{- if gt (int .Values.worker.replicas) 0 -}}
{{- fail "database.kind=embedded serves one process: worker.replicas must be 0 (the one pod does the queue work). Use database.kind=postgres for workers." -}}
{{- end -}}
{{- if not .Values.persistence.enabled -}}
{{- fail "database.kind=embedded keeps its database in /data: set persistence.enabled=true (a PersistentVolumeClaim), or everything is lost when the pod moves." -}}
{{- end -}}
{{- else if and (not .Values.database.url) (not .Values.existingSecret) -}}
{{- fail "database.kind=postgres needs database.url (postgres://…), or existingSecret holding DATABASE_URL." -}}
{{- end -}}
{{- /* envhooks ends itself at its drain deadline: the shutdown delay + 20 s (src/main.ts). */ -}}
{{- if le (int .Values.terminationGracePeriodSeconds) (add (div (int .Values.web.shutdownDelayMs) 1000) 20) -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be above web.shutdownDelayMs/1000 + 20 s, envhooks' drain deadline, or Kubernetes kills pods still draining." (int .Values.terminationGracePeriodSeconds)) -}}
{{- end -}}
{{- end -}}

{{/*
  One envhooks pod template; `role` is web, worker or all.
  Usage: include "envhooks.podTemplate" (dict "root" $ "role" "web" "component" .Values.web)
*/}}
{{- define "envhooks.podTemplate" -}}
{{- $root := .root -}}
{{- $values := $root.Values -}}
metadata:
  labels:
    {{- include "envhooks.selectorLabels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .name }}
  annotations:
    # A new Secret rolls the pods.
    checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
spec:
  {{- with $values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
  containers:
    - name: envhooks
      image: {{ include "envhooks.image" $root | quote }}
      imagePullPolicy: {{ $values.image.pullPolicy }}
      securityContext:
        {{- toYaml $values.securityContext | nindent 8 }}
      ports:
        - name: http
          containerPort: 3000
          protocol: TCP
      envFrom:
        - secretRef:
            name: {{ include "envhooks.secretName" $root }}
      env:
        - name: ENVHOOKS_ROLE
          value: {{ .role | quote }}
        {{- if eq $values.database.kind "embedded" }}
        # A folder of its own on the claim: fsGroup leaves the claim's root open to the group
        # (2770), and envhooks refuses a data folder others can open; the folder it makes is 0700.
        - name: ENVHOOKS_DATA_DIR
          value: /data/envhooks
        {{- end }}
        {{- if eq .role "web" "all" }}
        - name: ENVHOOKS_SHUTDOWN_DELAY_MS
          value: {{ $values.web.shutdownDelayMs | quote }}
        {{- end }}
        {{- with $values.publicUrl }}
        - name: ENVHOOKS_PUBLIC_URL
          value: {{ . | quote }}
        {{- end }}
        {{- with $values.trustedProxies }}
        - name: ENVHOOKS_TRUSTED_PROXIES
          value: {{ . | quote }}
        {{- end }}
        {{- with $values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      # Migrations run at start, under a PostgreSQL advisory lock: pods starting together wait
      # for the first, which may take a while on an upgrade. The startup probe allows for that.
      startupProbe:
        httpGet: { path: /healthz, port: http }
        {{- toYaml $values.startupProbe | nindent 8 }}
      readinessProbe:
        httpGet: { path: /readyz, port: http }
        {{- toYaml $values.readinessProbe | nindent 8 }}
      livenessProbe:
        httpGet: { path: /healthz, port: http }
        {{- toYaml $values.livenessProbe | nindent 8 }}
      resources:
        {{- toYaml .component.resources | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        - name: data
          mountPath: /data
  volumes:
    - name: tmp
      emptyDir: {}
    - name: data
      {{- if eq $values.database.kind "embedded" }}
      persistentVolumeClaim:
        claimName: {{ default (include "envhooks.fullname" $root) $values.persistence.existingClaim }}
      {{- else }}
      emptyDir: {}
      {{- end }}
  {{- with .component.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .component.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .component.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
