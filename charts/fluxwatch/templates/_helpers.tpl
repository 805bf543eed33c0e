{{/* The chart name, or nameOverride. */}}
{{- define "fluxwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects: fullnameOverride, else the release
name when it already contains the chart name, else "<release>-<chart>".
*/}}
{{- define "fluxwatch.fullname" -}}
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

{{- define "fluxwatch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "fluxwatch.labels" -}}
helm.sh/chart: {{ include "fluxwatch.chart" . }}
{{ include "fluxwatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fluxwatch
{{- end }}

{{/* Labels that select the controller's pods; never change them in an upgrade. */}}
{{- define "fluxwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fluxwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "fluxwatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fluxwatch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is set. */}}
{{- define "fluxwatch.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Whether the cluster already serves the FluxWatch API (see watches.yaml). */}}
{{- define "fluxwatch.apiServed" -}}
{{- if .Capabilities.APIVersions.Has "fluxwatch.dev/v1alpha1/FluxWatch" }}true{{ end }}
{{- end }}

{{/*
Whether this install or upgrade adopts FluxWatches created by the hooks of
a first install (see watches.yaml): an install, or an upgrade whose live
Deployment still says fluxwatch.dev/watches: hooks. Empty without a cluster.
*/}}
{{- define "fluxwatch.adoptsWatches" -}}
{{- if .Release.IsInstall }}true
{{- else }}
{{- $d := lookup "apps/v1" "Deployment" .Release.Namespace (include "fluxwatch.fullname" .) }}
{{- if eq (dig "metadata" "annotations" "fluxwatch.dev/watches" "" $d) "hooks" }}true{{ end }}
{{- end }}
{{- end }}
