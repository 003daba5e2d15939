{{/* The manager's image: repository and tag, the tag defaulting to appVersion. */}}
{{- define "idtenant.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Labels of the manager's objects, as config/manager sets them. */}}
{{- define "idtenant.labels" -}}
app.kubernetes.io/component: manager
app.kubernetes.io/name: idtenant
{{- end }}
