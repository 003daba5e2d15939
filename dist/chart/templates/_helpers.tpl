{{/* The manager's image: repository and tag, the tag defaulting to appVersion. */}}
{{- define "idtenant.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Labels of the manager's objects, as config/manager sets them. */}}
{{- define "idtenant.labels" -}}
app.kubernetes.io/component: manager
app.kubernetes.io/name: idtenant
{{- end }}

{{/* chart-version, as helm.sh/chart spells it. */}}
{{- define "idtenant.chart" -}}
{{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* Labels Helm's conventions add to every object of the release: which
release and chart, and who manages it. Never in a selector (a selector is
immutable, and these change with every upgrade). */}}
{{- define "idtenant.helmLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: idtenant
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ include "idtenant.chart" . }}
{{- end }}

{{/* The annotation that keeps CRDs (and with them every Tenant,
Application, API and state record) when the release is uninstalled. */}}
{{- define "idtenant.crdAnnotations" -}}
{{- if .Values.crds.keep }}
helm.sh/resource-policy: keep
{{- end }}
{{- end }}
