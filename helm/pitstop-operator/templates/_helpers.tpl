{{/* Full name: the release name when it already says pitstop-operator, else both. */}}
{{- define "pitstop-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 55 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 55 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Selector labels. app.kubernetes.io/name=pitstop-operator is a contract: race
NetworkPolicies admit the operator by it. */}}
{{- define "pitstop-operator.selectorLabels" -}}
app.kubernetes.io/name: pitstop-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pitstop-operator.labels" -}}
{{ include "pitstop-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: pitstop
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "pitstop-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pitstop-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pitstop-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Rules on the kinds a RaceSession owns, granted cluster-wide or per namespace. */}}
{{- define "pitstop-operator.raceRules" -}}
- apiGroups: [pitstop.io]
  resources: [racesessions]
  verbs: [get, list, watch, patch, update]
- apiGroups: [pitstop.io]
  resources: [racesessions/status]
  verbs: [get, patch, update]
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [""]
  resources: [services, secrets, configmaps, serviceaccounts]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, patch, update, delete]
# Held so that the operator may grant a race's Prometheus the same (RBAC forbids granting
# what one does not have): pod discovery, and get pods/metrics, which the operator checks
# before serving a namespace's container metrics (no API endpoint serves it).
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods/metrics]
  verbs: [get]
# Post-race pipeline: one Job per task attempt, the season-report CronJob; the replay Job
# of source.type openf1 (server-side applied, pruned by label).
- apiGroups: [batch]
  resources: [jobs, cronjobs]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [keda.sh]
  resources: [scaledobjects]
  verbs: [get, list, watch, create, patch, update, delete]
# monitoring.mode: prometheusOperator. Server-side apply (create counts as create), pruning
# by label (list, delete); never watched or read one by one.
- apiGroups: [monitoring.coreos.com]
  resources: [podmonitors, prometheusrules]
  verbs: [list, create, patch, delete]
# postgres.cloudNativePG: the race's CloudNativePG Cluster (server-side applied, pruned by
# label); the workloads read the Secrets CloudNativePG makes, the operator never does.
- apiGroups: [postgresql.cnpg.io]
  resources: [clusters]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
