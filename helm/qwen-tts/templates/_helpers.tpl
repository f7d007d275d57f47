{{/*
Expand the name of the chart.
*/}}
{{- define "qwen-tts.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name. Truncated at 63 chars (DNS names); a release name that
already contains the chart name is used as is.
*/}}
{{- define "qwen-tts.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Component names: <fullname>-api and <fullname>-triton (room left for the suffix). */}}
{{- define "qwen-tts.api.fullname" -}}
{{- printf "%s-api" (include "qwen-tts.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{- define "qwen-tts.triton.fullname" -}}
{{- printf "%s-triton" (include "qwen-tts.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "qwen-tts.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "qwen-tts.labels" -}}
helm.sh/chart: {{ include "qwen-tts.chart" . }}
{{ include "qwen-tts.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "qwen-tts.name" . }}
{{- end }}

{{/*
Selector labels
*/}}
{{- define "qwen-tts.selectorLabels" -}}
app.kubernetes.io/name: {{ include "qwen-tts.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "qwen-tts.api.labels" -}}
{{ include "qwen-tts.labels" . }}
app.kubernetes.io/component: api
{{- end }}

{{- define "qwen-tts.api.selectorLabels" -}}
{{ include "qwen-tts.selectorLabels" . }}
app.kubernetes.io/component: api
{{- end }}

{{- define "qwen-tts.triton.labels" -}}
{{ include "qwen-tts.labels" . }}
app.kubernetes.io/component: triton
{{- end }}

{{- define "qwen-tts.triton.selectorLabels" -}}
{{ include "qwen-tts.selectorLabels" . }}
app.kubernetes.io/component: triton
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "qwen-tts.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "qwen-tts.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Image reference: repository:tag (tag defaults to the chart's appVersion) or repository@digest. */}}
{{- define "qwen-tts.image" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository (.tag | default .appVersion) }}
{{- end }}
{{- end }}

{{/* The API is stateless only with an external database: more than one replica needs one. */}}
{{- define "qwen-tts.api.externalDatabase" -}}
{{- if .Values.api.database.existingSecret }}true{{ end }}
{{- end }}

{{- define "qwen-tts.api.sqliteClaimName" -}}
{{- .Values.api.database.sqlite.persistence.existingClaim | default (printf "%s-data" (include "qwen-tts.api.fullname" .)) }}
{{- end }}

{{- define "qwen-tts.triton.cacheClaimName" -}}
{{- .Values.triton.modelCache.persistence.existingClaim | default (printf "%s-model-cache" (include "qwen-tts.triton.fullname" .)) }}
{{- end }}

{{/* The Prometheus job label of Triton's metrics: the ServiceMonitor's job is the Service name. */}}
{{- define "qwen-tts.triton.metricsJob" -}}
{{- .Values.prometheusRule.tritonJob | default (include "qwen-tts.triton.fullname" .) }}
{{- end }}

{{- define "qwen-tts.api.metricsJob" -}}
{{- .Values.prometheusRule.apiJob | default (include "qwen-tts.api.fullname" .) }}
{{- end }}

{{- define "qwen-tts.worker.fullname" -}}
{{- printf "%s-worker" (include "qwen-tts.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{- define "qwen-tts.worker.labels" -}}
{{ include "qwen-tts.labels" . }}
app.kubernetes.io/component: worker
{{- end }}

{{- define "qwen-tts.worker.selectorLabels" -}}
{{ include "qwen-tts.selectorLabels" . }}
app.kubernetes.io/component: worker
{{- end }}
