{{/* The release's resource name (the chart name when the release is named after it). */}}
{{- define "approval-gateway.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels every resource carries. */}}
{{- define "approval-gateway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{ include "approval-gateway.selectorLabels" . }}
{{- end -}}

{{/* The labels that select the gateway's pods (never change them on an installed release). */}}
{{- define "approval-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The Secret holding the database URL, the master key and the backend secret. */}}
{{- define "approval-gateway.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "approval-gateway.fullname" .) -}}
{{- end -}}
