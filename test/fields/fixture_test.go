package fields

// The fixture: a service file and a plan that set every field, so that changing any one of them
// has something to change.

const serviceYAML = `apiVersion: hugai.io/v1
kind: Service
metadata:
  name: checkout
  namespace: shop
  labels: {team: payments}
  annotations: {owner: alice}
spec:
  target:
    type: local
    local:
      command: ["./releases/{{.Version}}/checkout", "--port", "{{.Port}}"]
      workdir: .
      env: {LOG_LEVEL: info}
      replicas: 2
      listen: 127.0.0.1:8080
      admin: 127.0.0.1:9090
      preview: 127.0.0.1:8081
      gracePeriod: 10s
    kubernetes:
      namespace: production
      deployment: checkout
      container: app
      image: registry.example.com/checkout:{{.Version}}
      service: checkout
      trafficRouter:
        gatewayAPI: {httpRoute: checkout}
  progressDeadline: 2m
  healthChecks:
    - name: ready
      path: /readyz
      interval: 5s
      timeout: 2s
      failureThreshold: 3
      successThreshold: 2
  metrics:
    - name: cpu
      provider: builtin
    - name: business_conversion_rate
      provider: prometheus
      address: http://127.0.0.1:9091
      query: sum(rate(orders_total[1m]))
  environments:
    staging: {}
    production:
      target:
        local: {listen: 127.0.0.1:8180, admin: 127.0.0.1:9190, replicas: 3, gracePeriod: 5s}
      successCriteria: error_rate<1%,latency_p95<2s
      analysis:
        interval: 30s
        minimumSamples: 20
        method: sequential
        alpha: 0.01
        maxRegression: {errorRate: 0.5pp, latencyP95: 10%}
        earlyPromotion: true
      monitoring:
        duration: 10m
      strategyByRisk: {low: rolling, medium: canary, high: canary, critical: blueGreen}
      policy:
        roles:
          viewer: ["*"]
          deployer: [group:developers, token:ci]
          approver: [carol@company.com]
          admin: [dave]
        approvers: [alice, bob]
        approvalsRequired: 1
        fourEyes: true
        approvalTimeout: 1h
        approvalExpiry: 30m
        quorum:
          - name: leads
            from: [alice, bob]
        checkpointRoles: {database-migration-review: admin}
        requireApprovalFrom: high
        timezone: Europe/Berlin
        freezeWindows:
          - name: weekend
            start: "0 18 * * FRI"
            duration: 62h
  database:
    migrate: ["make", "migrate-up"]
    rollback: ["make", "migrate-down"]
  smokeTest: ["curl", "-fsS", "{{.URL}}/healthz"]
  checkpoints:
    security-scan: ["trivy", "fs", "."]
  release:
    stages:
      - name: first
        environment: staging
        preChecks: [security-scan]
        validation: [smoke-test]
      - environment: production
        validation: [smoke-test, security-scan]
  notifications:
    - name: oncall-slack
      type: slack
      webhookURL: ${SLACK_WEBHOOK_URL}
      severity: warning
    - type: email
      smtp: smtp.example.com:587
      username: hugai
      password: ${SMTP_PASSWORD}
      from: hugai@example.com
      to: [oncall@example.com]
      severity: critical
    - type: webhook
      url: http://127.0.0.1:9999/hook
      secret: ${HOOK_SECRET}
    - type: pagerduty
      routingKey: ${PD_KEY}
`

const planYAML = `apiVersion: hugai.io/v1
kind: DeploymentPlan
metadata:
  name: checkout-production-v2
  namespace: production
  labels: {team: payments}
  annotations: {pr: "42"}
spec:
  service: checkout
  version: v2
  environment: production
  strategy:
    type: canary
    canary:
      steps:
        - setWeight: 5
          pause: {duration: 5m}
        - analysis:
            templates:
              - templateName: errors
                args: [{name: service-name, value: checkout}]
            args: [{name: service-name, value: checkout}]
        - approval: {approvers: [carol], count: 1, timeout: 30m}
        - setWeight: 100
      analysis:
        templates:
          - templateName: success-rate
            args: [{name: service-name, value: checkout}]
        args: [{name: service-name, value: checkout}]
      scaleDownDelaySeconds: 30
      progressDeadline: 3m
  analysisTemplates:
    - name: errors
      args: [{name: service-name, value: checkout}]
      metrics:
        - name: errors
          provider: builtin
          interval: 30s
          count: 2
          successCondition: error_rate<2%
          failureLimit: 1
          consecutiveErrorLimit: 2
          inconclusiveLimit: 4
          minimumSamples: 20
  successCriteria: error_rate<1%,latency_p95<2s
  governance:
    approvals:
      - name: production-approval
        required: true
        approvers: [alice]
        count: 1
        timeout: 1h
        reason: risk high
    checkpoints:
      - {name: health-check, required: true, automated: true, reason: readiness}
      - {name: security-scan, required: true, automated: true}
      - {name: business-validation, required: false, automated: false}
  rollback:
    automatic: true
    triggers:
      - errorRateThreshold: 1.0
      - latencyThreshold: 2000ms
      - customMetricThreshold: {metric: cpu_utilization, threshold: 90, comparison: greater_than}
    steps:
      - {name: traffic_routing, action: redirect_traffic, target: previous, maxDuration: 30s}
      - {name: instance_rollback, action: deploy_previous_version, target: previous, maxDuration: 5m}
      - {name: database_rollback, action: apply_database_migrations, target: previous, maxDuration: 2m, requiresApproval: true}
      - {name: verification, action: verify_rollback, maxDuration: 3m, checks: [health_check, smoke_test]}
  monitoring:
    enabled: true
    duration: 10m
    healthChecks:
      - {name: ready, path: /readyz, interval: 5s, timeout: 2s, failureThreshold: 3, successThreshold: 2}
    metrics: [error_rate, throughput]
    alerting:
      enabled: true
      channels: [oncall-slack, email]
  risk:
    score: 71
    level: high
    factors: [{name: size, contribution: 20, reason: big}]
  changes:
    from: v1
    to: v2
    fromCommit: aaaa
    toCommit: bbbb
    commits: 3
    added: 10
    deleted: 2
    files: [{path: a.go, oldPath: b.go, class: source, added: 10, deleted: 2}]
    omittedFiles: 0
    note: ""
`

const deploymentYAML = `apiVersion: hugai.io/v1
kind: HugAIDeployment
metadata:
  name: checkout-deployment
  namespace: production
  labels: {team: payments}
  annotations: {pr: "42"}
spec:
  service: checkout
  version: v2
  environment: production
  strategy:
    type: canary
    governance:
      approvalRequired: true
      qualityGates: [health-check, performance-test, security-scan]
  monitoring:
    enabled: true
    duration: 10m
    healthChecks:
      - {name: ready, path: /readyz, interval: 5s, timeout: 2s, failureThreshold: 3, successThreshold: 2}
    metrics: [http_request_duration, error_rate]
    alerting: {enabled: true, channels: [oncall-slack, email]}
  rollout:
    steps:
      - {weight: 5, pause: 5m}
      - {weight: 25, pause: 10m}
      - {weight: 100}
  rollback:
    automatic: true
    triggers:
      - errorRateThreshold: 1.0
      - latencyThreshold: 2000ms
      - customMetricThreshold: {metric: cpu_utilization, threshold: 90, comparison: greater_than}
    steps:
      - {name: traffic_routing, action: redirect_traffic, target: previous, maxDuration: 30s}
      - {name: verification, action: verify_rollback, maxDuration: 3m, checks: [health_check]}
`
