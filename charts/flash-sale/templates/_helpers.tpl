{{- define "flash-sale.labels" -}}
app.kubernetes.io/part-of: flash-sale
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "flash-sale.image" -}}
{{- $root := index . 0 -}}{{- $service := index . 1 -}}
{{- if index $root.Values.images $service -}}
{{- index $root.Values.images $service -}}
{{- else -}}
{{- $repo := printf "%s-%s" $root.Values.image.repository $service -}}
{{- if $root.Values.image.registry }}{{ $repo = printf "%s/%s" $root.Values.image.registry $repo }}{{ end -}}
{{- printf "%s:%s" $repo (default $root.Chart.AppVersion $root.Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret (key `token`) of the Dapr API token ("api": apps → sidecar) or app token ("app": sidecar → app). */}}
{{- define "flash-sale.daprTokenSecret" -}}
{{- $root := index . 0 -}}{{- $kind := index . 1 -}}
{{- default (printf "%s-dapr-%s-token" $root.Release.Name $kind) (index $root.Values.dapr (printf "%sTokenSecret" $kind)) -}}
{{- end -}}

{{/* Installing Dapr resources into a cluster without Dapr fails obscurely; say what is missing instead. */}}
{{- define "flash-sale.requireDapr" -}}
{{- if and .Values.dapr.requireCrds (not (.Capabilities.APIVersions.Has "dapr.io/v1alpha1")) -}}
{{- fail "The Dapr CRDs (dapr.io/v1alpha1) are not installed in this cluster. Install Dapr first (dapr init -k, or the dapr Helm chart), then install flash-sale. To render anyway, pass --api-versions dapr.io/v1alpha1 or set dapr.requireCrds=false." -}}
{{- end -}}
{{- end -}}
