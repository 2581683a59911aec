import FlockCore
import Yams

/// Parses one policy file's YAML into a validated `Policy`, or reports every problem in it.
///
/// The schema is documented in the README ("Policy reference"). Defaults fill what a policy
/// leaves out; anything present must be valid.
public enum PolicyParser {
    /// - Parameters:
    ///   - text: the YAML source.
    ///   - file: the name used in diagnostics.
    /// - Throws: `PolicyErrors` with every problem found, each located at file:line:column.
    public static func parse(_ text: String, file: String) throws(PolicyErrors) -> Policy {
        var reader = YAMLReader(file: file)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw PolicyErrors([
                    PolicyDiagnostic(file: file, line: 1, column: 1, message: "the policy file is empty")
                ])
            }
            root = node
        } catch let errors as PolicyErrors {
            throw errors
        } catch {
            throw PolicyErrors([syntaxDiagnostic(error, file: file)])
        }
        let policy = read(root, &reader)
        guard reader.diagnostics.isEmpty, let policy else {
            throw PolicyErrors(reader.diagnostics.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
        }
        return policy
    }

    private static let topKeys = [
        "pool", "parent", "balancer", "capacity", "evaluation_interval", "checks", "scale_out", "scale_in", "clone",
        "dry_run", "predictive", "standby",
    ]

    private static func read(_ root: Node, _ r: inout YAMLReader) -> Policy? {
        guard let top = r.fields(root, path: "policy", allowed: topKeys) else { return nil }
        r.require(["pool", "parent", "balancer", "capacity", "checks"], in: top)

        let pool = r.string(top, "pool")
        if let pool, !Pool.isValidName(pool) {
            r.error(
                at: top["pool"]?.mark, "pool name '\(pool)' is not allowed",
                hint: "use 1 to 63 characters from a-z, 0-9 and '-'; it becomes part of VM and server names"
            )
        }
        let parent = r.string(top, "parent")
        if let parent, parent.isEmpty { r.error(at: top["parent"]?.mark, "policy.parent must name the warm parent VM") }

        var balancer: Policy.BalancerTarget?
        if let node = top["balancer"],
            let f = r.fields(node, path: "balancer", allowed: ["backend", "port", "server"])
        {
            r.require(["backend", "port"], in: f)
            let backend = r.string(f, "backend")
            let port = r.int(f, "port")
            if let port, !(1...65535).contains(port) {
                r.error(at: f["port"]?.mark, "balancer.port must be between 1 and 65535; got \(port)")
            }
            let server = f["server"].map { readServerOptions($0, &r) } ?? ServerOptions()
            if let backend, let port { balancer = .init(backend: backend, port: port, server: server) }
        }

        var capacity: Policy.Capacity?
        if let node = top["capacity"], let f = r.fields(node, path: "capacity", allowed: ["min", "max"]) {
            r.require(["min", "max"], in: f)
            let min = r.int(f, "min"), max = r.int(f, "max")
            if let min, min < 1 {
                r.error(
                    at: f["min"]?.mark, "capacity.min must be at least 1; got \(min)",
                    hint: "capacity counts serving instances and the parent always serves"
                )
            }
            if let max, max < 1 { r.error(at: f["max"]?.mark, "capacity.max must be at least 1; got \(max)") }
            if let max, max > Policy.countLimit {
                r.error(at: f["max"]?.mark, "capacity.max must be at most \(Policy.countLimit); got \(max)")
            }
            if let min, let max, min >= 1, max >= 1, min > max {
                r.error(at: f["min"]?.mark, "capacity.min (\(min)) is greater than capacity.max (\(max))")
            }
            if let min, let max { capacity = .init(min: min, max: max) }
        }

        let interval =
            r.policyDuration(
                top, "evaluation_interval", shortest: PolicyLimits.shortestEvaluationInterval,
                why: "evaluating more often loads the balancer and the store without scaling sooner; ")
            ?? Policy.defaultEvaluationInterval
        let checks = readChecks(top["checks"], &r)
        let scaleOut = readScaleOut(top["scale_out"], &r)
        let scaleIn = readScaleIn(top["scale_in"], &r)

        var mode = CloneMode.lazy
        if let node = top["clone"], let f = r.fields(node, path: "clone", allowed: ["mode"]) {
            mode = r.choice(f, "mode", as: CloneMode.self) ?? mode
        }
        let dryRun = r.bool(top, "dry_run") ?? false
        let predictive = top["predictive"].flatMap { readPredictive($0, checks: checks, &r) }
        let standby = top["standby"].flatMap {
            readStandby($0, capacity: capacity, mode: mode, &r)
        }

        guard let pool, let parent, let balancer, let capacity, let checks else { return nil }
        return Policy(
            pool: pool, parent: parent, balancer: balancer, capacity: capacity, evaluationInterval: interval,
            checks: checks, scaleOut: scaleOut, scaleIn: scaleIn, cloneMode: mode, dryRun: dryRun,
            predictive: predictive, standby: standby
        )
    }

    private static func readChecks(_ node: Node?, _ r: inout YAMLReader) -> [Check]? {
        guard let node else { return nil }
        guard let items = node.sequence, !items.isEmpty else {
            r.error(at: node.mark, "checks must be a list with at least one check")
            return nil
        }
        var checks: [Check] = []
        var seen: [String: Int] = [:]
        var valid = true
        for (index, item) in items.enumerated() {
            guard let check = readCheck(item, index: index, &r) else {
                valid = false
                continue
            }
            if let first = seen[check.name] {
                r.error(at: item.mark, "check name '\(check.name)' is already used by checks[\(first)]")
                valid = false
            }
            seen[check.name] = index
            checks.append(check)
        }
        return valid ? checks : nil
    }

    private static func readCheck(_ node: Node, index: Int, _ r: inout YAMLReader) -> Check? {
        let path = "checks[\(index)]"
        guard
            let f = r.fields(
                node, path: path, allowed: ["name", "metric", "window", "aggregate", "target_value", "threshold"])
        else { return nil }
        r.require(["name", "metric"], in: f)
        let name = r.string(f, "name")
        let metric = r.choice(f, "metric", as: MetricName.self)
        let window = r.policyDuration(f, "window") ?? Check.defaultWindow
        let aggregate = r.choice(f, "aggregate", as: Aggregate.self) ?? .mean

        var rule: Check.Rule?
        switch (f["target_value"], f["threshold"]) {
        case (nil, nil):
            r.error(
                at: f.mark, "\(path) needs a rule",
                hint: "add 'target_value: { target: … }' or 'threshold: { above: …, add: … }'")
        case (.some, .some):
            r.error(
                at: f.entries["threshold"]?.key.mark, "\(path) has both target_value and threshold",
                hint: "split it into two checks")
        case (.some(let tv), nil):
            rule = readTargetValue(tv, path: "\(path).target_value", &r).map(Check.Rule.targetValue)
        case (nil, .some(let th)):
            rule = readThreshold(th, path: "\(path).threshold", &r).map(Check.Rule.threshold)
        }
        guard let name, let metric, let rule else { return nil }
        if name.isEmpty { r.error(at: f["name"]?.mark, "\(path).name must not be empty") }
        return Check(name: name, metric: metric, window: window, aggregate: aggregate, rule: rule)
    }

    private static func readTargetValue(_ node: Node, path: String, _ r: inout YAMLReader) -> Check.TargetValue? {
        guard let f = r.fields(node, path: path, allowed: ["target", "tolerance"]) else { return nil }
        r.require(["target"], in: f)
        let target = r.number(f, "target")
        let tolerance = r.number(f, "tolerance") ?? Check.TargetValue.defaultTolerance
        if let target, target <= 0 { r.error(at: f["target"]?.mark, "\(path).target must be greater than zero") }
        if !(0..<1).contains(tolerance) {
            r.error(
                at: f["tolerance"]?.mark, "\(path).tolerance must be at least 0 and below 1", hint: "0.1 means ±10%")
        }
        guard let target, target > 0, (0..<1).contains(tolerance) else { return nil }
        return .init(target: target, tolerance: tolerance)
    }

    private static func readThreshold(_ node: Node, path: String, _ r: inout YAMLReader) -> Check.Threshold? {
        let actions = ["add", "add_percent", "remove", "remove_percent"]
        guard let f = r.fields(node, path: path, allowed: ["above", "below", "for"] + actions) else { return nil }

        var bound: Check.Threshold.Bound?
        switch (r.number(f, "above"), r.number(f, "below")) {
        case (nil, nil):
            if f["above"] == nil && f["below"] == nil {
                r.error(at: f.mark, "\(path) needs a bound", hint: "add 'above: N' or 'below: N'")
            }
        case (.some(let above), nil): bound = .above(above)
        case (nil, .some(let below)): bound = .below(below)
        case (.some, .some):
            r.error(
                at: f.entries["below"]?.key.mark, "\(path) has both 'above' and 'below'",
                hint: "use two checks: one to scale out above a bound, one to scale in below another"
            )
        }
        let sustain = r.policyDuration(f, "for")

        let given = actions.filter { f[$0] != nil }
        var action: Check.Threshold.Action?
        if given.isEmpty {
            r.error(at: f.mark, "\(path) has no action", hint: "add one of: \(actions.joined(separator: ", "))")
        } else if given.count > 1 {
            r.error(
                at: f.entries[given[1]]?.key.mark,
                "\(path) has more than one action (\(given.joined(separator: ", ")))", hint: "keep exactly one"
            )
        } else if given[0].hasSuffix("_percent") {
            if let p = r.number(f, given[0]) {
                if p > Policy.percentLimit {
                    r.error(
                        at: f[given[0]]?.mark,
                        "\(path).\(given[0]) must be at most \(Int(Policy.percentLimit)); got \(p)")
                } else if p > 0 {
                    action = given[0] == "add_percent" ? .addPercent(p) : .removePercent(p)
                } else {
                    r.error(at: f[given[0]]?.mark, "\(path).\(given[0]) must be greater than zero; got \(p)")
                }
            }
        } else if let n = r.int(f, given[0]) {
            if n > Policy.countLimit {
                r.error(at: f[given[0]]?.mark, "\(path).\(given[0]) must be at most \(Policy.countLimit); got \(n)")
            } else if n > 0 {
                action = given[0] == "add" ? .add(n) : .remove(n)
            } else {
                r.error(at: f[given[0]]?.mark, "\(path).\(given[0]) must be a positive count; got \(n)")
            }
        }
        guard let bound, let action else { return nil }
        return .init(bound: bound, sustain: sustain, action: action)
    }

    /// `predictive`: the check must be one of the policy's target-value checks, because only those
    /// turn a demand into a count; `season` and `lead` are bounded by `PolicyLimits`.
    private static func readPredictive(_ node: Node, checks: [Check]?, _ r: inout YAMLReader) -> Policy.Predictive? {
        let path = "predictive"
        guard let f = r.fields(node, path: path, allowed: ["check", "season", "lead", "mode"]) else { return nil }
        r.require(["check"], in: f)
        let name = r.string(f, "check")
        let targets = (checks ?? []).filter { $0.targetValue != nil }.map(\.name)
        if let name, checks != nil, !targets.contains(name) {
            r.error(
                at: f["check"]?.mark, "\(path).check '\(name)' is not a target-value check of this policy",
                hint: targets.isEmpty
                    ? "add a check with 'target_value: { target: … }'; only those turn a forecast demand into a count"
                    : "use one of: \(targets.joined(separator: ", "))")
        }
        var season = Policy.Predictive.defaultSeason
        if let given = r.duration(f, "season") {
            if given < PolicyLimits.shortestSeason || given > PolicyLimits.longestSeason {
                r.error(
                    at: f["season"]?.mark,
                    "\(path).season must be between \(PolicyLimits.shortestSeason.flockText) and "
                        + "\(PolicyLimits.longestSeason.flockText); got \(given.flockText)",
                    hint: "the length of one cycle of the load, usually 24h")
                return nil
            }
            season = given
        }
        let lead = r.duration(f, "lead")
        if let lead, lead >= season {  // zero and negative durations are the reader's errors
            r.error(
                at: f["lead"]?.mark,
                "\(path).lead must be greater than 0 and shorter than the season (\(season.flockText)); "
                    + "got \(lead.flockText)",
                hint: "about the time a clone takes to serve plus one evaluation interval; leave it out for that")
            return nil
        }
        let mode = r.choice(f, "mode", as: Policy.Predictive.Mode.self) ?? .forecastOnly
        guard let name, targets.contains(name) else { return nil }
        return Policy.Predictive(check: name, season: season, lead: lead, mode: mode)
    }

    /// `standby`: only lazy clones can wait paused for next to no memory, and a standby beyond what
    /// `capacity.max` could ever activate only costs memory.
    private static func readStandby(
        _ node: Node, capacity: Policy.Capacity?, mode: CloneMode, _ r: inout YAMLReader
    ) -> Policy.Standby? {
        let path = "standby"
        guard let f = r.fields(node, path: path, allowed: ["count", "max_age"]) else { return nil }
        r.require(["count"], in: f)
        if mode != .lazy {
            r.error(
                at: node.mark, "\(path) needs clone.mode lazy; this policy clones \(mode.rawValue)",
                hint: "a standby waits paused with its memory mapped from the parent's snapshot, which only "
                    + "lazy clones do; set clone.mode to lazy or remove the standby block")
        }
        var count = positiveCount(f, "count", &r)
        if let wanted = count, let capacity, wanted > capacity.max - 1 {
            r.error(
                at: f["count"]?.mark,
                "\(path).count (\(wanted)) is more than capacity.max (\(capacity.max)) allows clones (\(capacity.max - 1))",
                hint: capacity.max > 1
                    ? "a standby only helps once it activates into a clone; write at most \(capacity.max - 1), "
                        + "or raise capacity.max"
                    : "with capacity.max 1 the parent serves alone; raise capacity.max or remove the standby block")
            count = nil
        }
        let maxAge = r.policyDuration(
            f, "max_age", shortest: PolicyLimits.shortestStandbyAge,
            why: "each refresh pauses the parent for a snapshot, for caches that barely changed; ")
        guard mode == .lazy, let count, maxAge != nil || f["max_age"] == nil else { return nil }
        return Policy.Standby(count: count, maxAge: maxAge ?? Policy.Standby.defaultMaxAge)
    }

    /// `balancer.server`: the per-server settings, named after HAProxy's keywords.
    private static func readServerOptions(_ node: Node, _ r: inout YAMLReader) -> ServerOptions {
        let path = "balancer.server"
        var options = ServerOptions()
        guard
            let f = r.fields(node, path: path, allowed: ["inter", "rise", "fall", "maxconn", "slowstart", "weight"])
        else { return options }
        func count(_ key: String, in range: ClosedRange<Int>) -> Int? {
            guard let n = r.int(f, key) else { return nil }
            guard range.contains(n) else {
                r.error(
                    at: f[key]?.mark,
                    "\(path).\(key) must be between \(range.lowerBound) and \(range.upperBound); got \(n)")
                return nil
            }
            return n
        }
        func duration(_ key: String) -> Duration? {
            guard let d = r.duration(f, key) else { return nil }
            guard ServerOptions.durationRange.contains(d) else {
                r.error(at: f[key]?.mark, "\(path).\(key) must be at most 24h; got \(d.flockText)")
                return nil
            }
            return d
        }
        options.interval = duration("inter")
        options.rise = count("rise", in: ServerOptions.riseFallRange)
        options.fall = count("fall", in: ServerOptions.riseFallRange)
        options.maxConnections = count("maxconn", in: ServerOptions.maxConnectionsRange)
        options.slowStart = duration("slowstart")
        options.weight = count("weight", in: ServerOptions.weightRange)
        return options
    }

    private static func readScaleOut(_ node: Node?, _ r: inout YAMLReader) -> Policy.ScaleOut {
        var result = Policy.ScaleOut()
        guard let node, let f = r.fields(node, path: "scale_out", allowed: ["cooldown", "max_step"]) else {
            return result
        }
        result.cooldown = r.policyDuration(f, "cooldown") ?? result.cooldown
        result.maxStep = positiveCount(f, "max_step", &r) ?? result.maxStep
        return result
    }

    private static func readScaleIn(_ node: Node?, _ r: inout YAMLReader) -> Policy.ScaleIn {
        var result = Policy.ScaleIn()
        guard
            let node,
            let f = r.fields(
                node, path: "scale_in", allowed: ["cooldown", "stabilization", "max_step", "drain_timeout"])
        else { return result }
        result.cooldown = r.policyDuration(f, "cooldown") ?? result.cooldown
        result.stabilization = r.policyDuration(f, "stabilization") ?? result.stabilization
        result.maxStep = positiveCount(f, "max_step", &r) ?? result.maxStep
        result.drainTimeout = r.policyDuration(f, "drain_timeout") ?? result.drainTimeout
        return result
    }

    private static func positiveCount(_ f: YAMLReader.Fields, _ key: String, _ r: inout YAMLReader) -> Int? {
        guard let n = r.int(f, key) else { return nil }
        guard n > 0, n <= Policy.countLimit else {
            r.error(at: f[key]?.mark, "\(f.path).\(key) must be between 1 and \(Policy.countLimit); got \(n)")
            return nil
        }
        return n
    }

    /// Turns a Yams syntax error into a located diagnostic.
    /// Package-visible so that `flockd`'s config reports YAML syntax errors the same way.
    package static func syntaxDiagnostic(_ error: any Error, file: String) -> PolicyDiagnostic {
        switch error as? YamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return PolicyDiagnostic(
                file: file, line: mark.line, column: mark.column, message: "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return PolicyDiagnostic(
                file: file, line: context.mark.line, column: context.mark.column,
                message: "duplicate key '\(duplicates.joined(separator: "', '"))'", hint: "each key may appear once"
            )
        default:
            return PolicyDiagnostic(file: file, line: 1, column: 1, message: "invalid YAML: \(error)")
        }
    }
}
