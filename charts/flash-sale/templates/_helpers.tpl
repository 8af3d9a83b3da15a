{{- define "flash-sale.labels" -}}
app.kubernetes.io/part-of: flash-sale
app.kubernetes.io/instance: {{ .Release.Name }}
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

{{/*
The pub/sub component's publishingScopes and subscriptionScopes, from the topic table (files/topics.json, the same
list packages/events turns into the local sidecars' scopes): every app listed, so an app with no topics has none; a
subscriber's sidecar also publishes its dead letters, and receives them again (they are delivered once more when the
app is back). Returns YAML: {publishing: ..., subscription: ...}.
*/}}
{{- define "flash-sale.pubsubScopes" -}}
{{- $table := .Files.Get "files/topics.json" | fromJson -}}
{{- $publishing := list -}}{{- $subscription := list -}}
{{- range $app := $table.apps -}}
{{- $pub := list -}}{{- $sub := list -}}
{{- range $topic := $table.topics -}}
{{- if has $app $topic.publishers }}{{ $pub = append $pub $topic.name }}{{ end -}}
{{- if and (has $app $topic.subscribers) $topic.deadLetter }}{{ $pub = append $pub $topic.deadLetter }}{{ end -}}
{{- if has $app $topic.subscribers }}{{ $sub = append $sub $topic.name }}{{ end -}}
{{- if and (has $app $topic.subscribers) $topic.deadLetter }}{{ $sub = append $sub $topic.deadLetter }}{{ end -}}
{{- end -}}
{{- $publishing = append $publishing (printf "%s=%s" $app (join "," $pub)) -}}
{{- $subscription = append $subscription (printf "%s=%s" $app (join "," $sub)) -}}
{{- end -}}
publishing: {{ join ";" $publishing | quote }}
subscription: {{ join ";" $subscription | quote }}
{{- end -}}
