{{/* Names, labels and the image reference, as charts conventionally spell them. */}}

{{- define "netfence.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* RELEASE-netfence, or RELEASE alone when it already says netfence. */}}
{{- define "netfence.fullname" -}}
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

{{- define "netfence.selectorLabels" -}}
app.kubernetes.io/name: {{ include "netfence.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "netfence.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "netfence.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: netfence
{{- end }}

{{- define "netfence.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "netfence.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* registry/repository@digest, or registry/repository:tag (tag defaults to appVersion). */}}
{{- define "netfence.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}{{ $repo = printf "%s/%s" .Values.image.registry $repo }}{{ end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Whether the store is PostgreSQL (then netfence's NetworkPolicy lets it reach it). */}}
{{- define "netfence.postgresql" -}}
{{- if hasPrefix "postgres" .Values.store.url }}true{{ end }}
{{- end }}

{{/* Whether to render a prometheus-operator object: its CRD is served, or it is forced. */}}
{{- define "netfence.monitoringKind" -}}
{{- $ctx := index . 0 }}{{ $values := index . 1 }}{{ $kind := index . 2 }}
{{- if and $values.enabled (or $values.force ($ctx.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" $kind))) }}true{{ end }}
{{- end }}

{{/* The reports' claim: RELEASE-netfence-reports (the name trimmed to 63 characters). */}}
{{- define "netfence.reportsClaim" -}}
{{- printf "%s-reports" (include "netfence.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}
