import FlockCore
import FlockPolicy
import FlockStore
import Foundation
import Logging
import Yams

/// Reads `flockd.yaml` into a `DaemonConfig`, reporting every problem at file:line:column.
///
/// It uses the policy parser's `YAMLReader`, so the config and the policies share one set of
/// rules: unknown keys are errors with a suggestion, types are checked, durations are written
/// `500ms`/`2s`/`1m`/`1h`, and every error in the file is reported in one run. Policy files the
/// config names are parsed too, so a bad policy stops `--check-config` as well. The schema is
/// documented in the README ("flockd configuration").
public enum DaemonConfigParser {
    static let topKeys = [
        "store", "listen", "api_token", "api_token_file", "log", "policy_poll_interval", "removed_pools", "balancers",
        "hypervisors", "hosts", "pools",
    ]
    static let storeKeys = ["path", "sample_retention", "decision_retention", "event_retention", "journal_retention"]

    /// Reads and parses the file at `path`, then applies the environment's overrides.
    public static func load(
        path: String, environment: [String: String], kinds: DriverKinds
    ) throws(DaemonError) -> DaemonConfig {
        switch readText(path) {
        case .success(let text):
            return try parse(text, file: path, environment: environment, kinds: kinds)
        case .failure(let problem):
            throw .unreadableConfig(path, problem.message)
        }
    }

    /// Parses config text; relative paths in it are taken from the directory of `file`.
    public static func parse(
        _ text: String, file: String, environment: [String: String], kinds: DriverKinds
    ) throws(DaemonError) -> DaemonConfig {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw DaemonError.invalidConfig([
                    PolicyDiagnostic(file: file, line: 1, column: 1, message: "the config file is empty")
                ])
            }
            root = node
        } catch let error as DaemonError {
            throw error
        } catch {
            throw .invalidConfig([PolicyParser.syntaxDiagnostic(error, file: file)])
        }
        var reading = Reading(file: file, kinds: kinds, environment: environment)
        let config = reading.read(root)
        let diagnostics = reading.reader.diagnostics + reading.extra
        guard diagnostics.isEmpty, var config else { throw .invalidConfig(diagnostics) }
        try EnvironmentOverrides.apply(environment, to: &config)
        return config
    }

    /// One parse: the reader that collects diagnostics, and what the sections need from outside.
    struct Reading {
        var reader: YAMLReader
        /// Located elsewhere than at a YAML node: in a policy file, or reported by a factory.
        var extra: [PolicyDiagnostic] = []
        let file: String
        let baseDirectory: String
        let kinds: DriverKinds
        let environment: [String: String]

        init(file: String, kinds: DriverKinds, environment: [String: String]) {
            self.reader = YAMLReader(file: file)
            self.file = file
            self.baseDirectory = (file as NSString).deletingLastPathComponent
            self.kinds = kinds
            self.environment = environment
        }

        func location(_ mark: Mark?) -> DaemonConfig.SourceLocation {
            .init(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
        }

        /// Paths in the config are relative to the config file, not to flockd's working directory.
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") || baseDirectory.isEmpty ? path : "\(baseDirectory)/\(path)"
        }

        mutating func read(_ root: Node) -> DaemonConfig? {
            guard let top = reader.fields(root, path: "config", allowed: DaemonConfigParser.topKeys) else { return nil }
            reader.require(["pools"], in: top)
            let store = readStore(top["store"])
            let listen = readListen(top)
            let token = readToken(top)
            let log = readLog(top["log"])
            let poll = reader.duration(top, "policy_poll_interval") ?? DaemonConfig.Defaults.policyPollInterval
            let removedPools = reader.choice(top, "removed_pools", as: DaemonConfig.RemovedPools.self) ?? .report
            let balancers = readNamed(top["balancers"], section: "balancers") { $0.readBalancer($1, name: $2) }
            let hypervisors = readNamed(top["hypervisors"], section: "hypervisors") {
                $0.readHypervisor($1, name: $2)
            }
            let hosts = readHosts(top["hosts"])
            let declared = (
                balancers: declaredNames(top["balancers"]), hypervisors: declaredNames(top["hypervisors"]),
                hosts: declaredNames(top["hosts"])
            )
            var pools: [DaemonConfig.PoolConfig] = []
            if let node = top["pools"] {
                let entries = namedEntries(node, section: "pools")
                if entries.isEmpty, node.mapping != nil {
                    reader.error(at: node.mark, "pools must name at least one pool")
                }
                for (name, keyNode, value) in entries {
                    if let pool = readPool(
                        value, name: name, keyMark: keyNode.mark, balancers: (balancers, declared.balancers),
                        hypervisors: (hypervisors, declared.hypervisors), hosts: (hosts, declared.hosts))
                    {
                        pools.append(pool)
                    }
                }
            }
            guard let store, let listen, let log else { return nil }
            return DaemonConfig(
                file: file, store: store, listen: listen, apiToken: token, log: log, policyPollInterval: poll,
                removedPools: removedPools, balancers: balancers, hypervisors: hypervisors, hosts: hosts, pools: pools)
        }

        // MARK: sections

        mutating func readStore(_ node: Node?) -> DaemonConfig.StoreSettings? {
            var path: String?
            var samples = FlockStore.defaultSampleRetention
            var history = HistoryRetention()
            if let node, let f = reader.fields(node, path: "store", allowed: DaemonConfigParser.storeKeys) {
                path = reader.string(f, "path").map(resolve)
                samples = reader.duration(f, "sample_retention") ?? samples
                history.decisions = readRetention(f, "decision_retention") ?? history.decisions
                history.events = readRetention(f, "event_retention") ?? history.events
                history.journal = readRetention(f, "journal_retention") ?? history.journal
            }
            let fallback = FlockStore.defaultPath(
                environment: environment, isRoot: getuid() == 0,
                home: FileManager.default.homeDirectoryForCurrentUser.path)
            return .init(path: path ?? fallback, sampleRetention: samples, historyRetention: history)
        }

        /// A history retention, at least as long as the longest window a policy may have: the
        /// engine reads decisions back for cooldowns and stabilization, and an operator reading
        /// why a pool scaled needs the events and the journal of the same span.
        mutating func readRetention(_ fields: YAMLReader.Fields, _ key: String) -> Duration? {
            guard let value = reader.duration(fields, key) else { return nil }
            guard value >= PolicyLimits.longestDuration else {
                reader.error(
                    at: fields[key]?.mark,
                    "store.\(key) must be at least \(PolicyLimits.longestDuration.flockText), "
                        + "the longest window or cooldown a policy may have; got \(value.flockText)",
                    hint: "the default is \(HistoryRetention.defaultAge.flockText) (7 days)")
                return nil
            }
            return value
        }

        mutating func readListen(_ top: YAMLReader.Fields) -> ListenAddress? {
            guard top["listen"] != nil else { return DaemonConfig.Defaults.listen }
            guard let text = reader.string(top, "listen") else { return nil }
            guard let address = ListenAddress(parsing: text) else {
                reader.error(
                    at: top["listen"]?.mark, "listen must be HOST:PORT; got '\(text)'",
                    hint: "e.g. 127.0.0.1:9464 (loopback, the default) or [::1]:9464")
                return nil
            }
            return address
        }

        mutating func readToken(_ top: YAMLReader.Fields) -> String? {
            if top["api_token"] != nil, top["api_token_file"] != nil {
                reader.error(
                    at: top["api_token_file"]?.mark, "give api_token or api_token_file, not both",
                    hint: "api_token_file keeps the secret out of the config")
                return nil
            }
            if let token = reader.string(top, "api_token") {
                return checkToken(token, at: top["api_token"]?.mark)
            }
            guard let path = reader.string(top, "api_token_file").map(resolve) else { return nil }
            switch readText(path) {
            case .success(let text):
                return checkToken(text.trimmingCharacters(in: .whitespacesAndNewlines), at: top["api_token_file"]?.mark)
            case .failure(let problem):
                reader.error(at: top["api_token_file"]?.mark, "api_token_file \(path): \(problem.message)")
                return nil
            }
        }

        /// A guessable token is no protection; 16 characters is the least `openssl rand -hex 8` gives.
        mutating func checkToken(_ token: String, at mark: Mark?) -> String? {
            guard token.count >= ApiToken.minimumLength, !token.contains(where: \.isWhitespace) else {
                reader.error(
                    at: mark,
                    "the API token must be at least \(ApiToken.minimumLength) characters without spaces",
                    hint: "make one with: openssl rand -hex 24")
                return nil
            }
            return token
        }

        mutating func readLog(_ node: Node?) -> DaemonConfig.LogSettings? {
            var settings = DaemonConfig.LogSettings(format: .text, level: .info)
            if let node, let f = reader.fields(node, path: "log", allowed: ["format", "level"]) {
                settings.format =
                    reader.choice(f, "format", as: DaemonConfig.LogSettings.Format.self) ?? settings.format
                settings.level = reader.choice(f, "level", as: Logger.Level.self) ?? settings.level
            }
            return settings
        }

        /// What the parser needs of a driver factory: its kind, its keys and its own checks.
        struct Kind {
            var name: String
            var keys: [String]
            var mappings: [String]
            var validate: (DriverSettings) -> [PolicyDiagnostic]
        }

        mutating func readBalancer(_ node: Node, name: String) -> DaemonConfig.DriverConfig? {
            readDriver(
                node, name: name, path: "balancers.\(name)", what: "balancer",
                kinds: kinds.balancers.map {
                    .init(name: $0.kind, keys: $0.settingKeys, mappings: $0.mappingKeys, validate: $0.validate)
                })
        }

        mutating func readHypervisor(_ node: Node, name: String) -> DaemonConfig.DriverConfig? {
            readDriver(
                node, name: name, path: "hypervisors.\(name)", what: "hypervisor",
                kinds: kinds.hypervisors.map {
                    .init(name: $0.kind, keys: $0.settingKeys, mappings: $0.mappingKeys, validate: $0.validate)
                })
        }

        /// A pool's `metrics:` section, or, without one, the default source of its balancer's kind.
        mutating func readMetrics(
            _ node: Node?, pool: String, at mark: Mark?, balancer: DaemonConfig.DriverConfig
        ) -> DaemonConfig.DriverConfig? {
            let path = "pools.\(pool).metrics"
            let sources = kinds.metrics.map { factory in
                Kind(
                    name: factory.kind, keys: factory.settingKeys, mappings: factory.mappingKeys,
                    validate: { factory.validate($0, balancer: balancer) })
            }
            if let node {
                return readDriver(node, name: pool, path: path, what: "metrics source", kinds: sources)
            }
            let fallback = kinds.balancers.first { $0.kind == balancer.kind }?.defaultMetricsKind
            guard let source = sources.first(where: { $0.name == fallback }) else {
                reader.error(
                    at: mark, "\(path): balancer '\(balancer.name)' (\(balancer.kind)) has no metrics of its own",
                    hint: "add a metrics: section, e.g. { kind: prometheus, url: …, queries: … }")
                return nil
            }
            let settings = DriverSettings(path: path, values: [:], location: location(mark))
            return validated(source, settings, name: pool)
        }

        /// A driver section: its kind, then its settings, checked by the kind's factory. An
        /// unknown kind is reported alone: without a kind the allowed keys are unknown too.
        mutating func readDriver(
            _ node: Node, name: String, path: String, what: String, kinds: [Kind]
        ) -> DaemonConfig.DriverConfig? {
            let kindNode = node.mapping?.first { $0.key.scalar?.string == "kind" }?.value
            let kindName = kindNode?.scalar?.string
            let known = kinds.first { $0.name == kindName }
            let keys = known.map { ["kind"] + $0.keys + $0.mappings }
            guard
                let f = reader.fields(
                    node, path: path, allowed: keys ?? (node.mapping?.keys.compactMap { $0.scalar?.string } ?? []))
            else { return nil }
            guard let kindNode, let kindName else {
                reader.require(["kind"], in: f)
                return nil
            }
            guard let known else {
                let names = kinds.map(\.name)
                let hint =
                    suggestion(for: kindName, among: names).map { "did you mean '\($0)'?" }
                    ?? (names.isEmpty
                        ? "this flockd was built without \(what) drivers"
                        : "kinds this flockd knows: \(names.joined(separator: ", "))")
                reader.error(at: kindNode.mark, "\(path).kind: unknown \(what) kind '\(kindName)'", hint: hint)
                return nil
            }
            let values = f.entries.filter { $0.key != "kind" }.mapValues { $0.value }
            var shaped = true
            for (key, value) in values {
                let wantsMapping = known.mappings.contains(key)
                let isScalar = value.scalar != nil && value.tag.rawValue != Tag.Name.null.rawValue
                if wantsMapping ? value.mapping == nil : !isScalar {
                    reader.error(
                        at: value.mark, "\(path).\(key) must be \(wantsMapping ? "a mapping" : "a single value")")
                    shaped = false
                }
            }
            guard shaped else { return nil }
            return validated(known, driverSettings(values, path: path, at: node.mark), name: name)
        }

        /// The section when its kind's factory finds no problem; otherwise the problems are reported.
        mutating func validated(_ kind: Kind, _ settings: DriverSettings, name: String) -> DaemonConfig.DriverConfig? {
            let problems = kind.validate(settings)
            extra += problems
            return problems.isEmpty ? .init(name: name, kind: kind.name, settings: settings) : nil
        }

        /// Scalars and nested mappings as `DriverSettings`. Anything else is a located error and is
        /// left out, so that the factory still reports the problems of the rest in the same run.
        mutating func driverSettings(_ entries: [String: Node], path: String, at mark: Mark?) -> DriverSettings {
            var values: [String: DriverSettings.Setting] = [:]
            for (key, value) in entries {
                if let scalar = value.scalar, value.tag.rawValue != Tag.Name.null.rawValue {
                    values[key] = .init(.scalar(scalar.string), location: location(value.mark))
                } else if let mapping = value.mapping {
                    var nested: [String: Node] = [:]
                    for (nestedKey, nestedValue) in mapping {
                        guard let name = nestedKey.scalar?.string else {
                            reader.error(at: nestedKey.mark, "keys in \(path).\(key) must be plain words")
                            continue
                        }
                        nested[name] = nestedValue
                    }
                    let settings = driverSettings(nested, path: "\(path).\(key)", at: value.mark)
                    values[key] = .init(.mapping(settings), location: location(value.mark))
                } else {
                    reader.error(at: value.mark, "\(path).\(key) must be a single value or a mapping")
                }
            }
            return DriverSettings(path: path, values: values, location: location(mark))
        }

        mutating func readPool(
            _ node: Node, name: String, keyMark: Mark?,
            balancers: ([String: DaemonConfig.DriverConfig], declared: Set<String>),
            hypervisors: ([String: DaemonConfig.DriverConfig], declared: Set<String>),
            hosts: ([String: DaemonConfig.HostConfig], declared: Set<String>)
        ) -> DaemonConfig.PoolConfig? {
            let path = "pools.\(name)"
            if !Pool.isValidName(name) {
                reader.error(
                    at: keyMark, "pool name '\(name)' is not allowed",
                    hint: "use 1 to 63 characters from a-z, 0-9 and '-', as in the pool's policy")
            }
            guard
                let f = reader.fields(
                    node, path: path, allowed: ["policy", "balancer", "hypervisor", "metrics", "parent", "placement"])
            else { return nil }
            reader.require(["policy", "balancer", "hypervisor"], in: f)
            let balancer = reference(
                f, "balancer", valid: Set(balancers.0.keys), declared: balancers.declared, section: "balancers")
            let hypervisor = reference(
                f, "hypervisor", valid: Set(hypervisors.0.keys), declared: hypervisors.declared, section: "hypervisors")
            let parent = reader.string(f, "parent")
            let policyText = reader.string(f, "policy")
            let policyMark = f["policy"]?.mark
            var source: DaemonConfig.PoolConfig.PolicySource?
            if let policyText {
                if policyText == "stored" {
                    source = .stored
                } else if let document = readPolicyFile(policyText, pool: name, at: policyMark) {
                    if let parent, parent != document.policy.parent {
                        reader.error(
                            at: f["parent"]?.mark,
                            "\(path).parent is '\(parent)' but the policy \(document.file) names '\(document.policy.parent)'",
                            hint: "the pool clones the policy's parent; make them agree")
                    }
                    source = .file(document)
                }
            }
            let metrics = balancer.flatMap { balancers.0[$0] }.flatMap {
                readMetrics(f["metrics"], pool: name, at: f["metrics"]?.mark ?? keyMark, balancer: $0)
            }
            var placement: DaemonConfig.PlacementConfig?
            if let node = f["placement"] {
                placement = readPlacement(node, pool: name, hosts: hosts.0, declared: hosts.declared)
                if let kind = hypervisor.flatMap({ hypervisors.0[$0]?.kind }) {
                    checkPlacement(of: kind, at: node.mark, pool: name)
                }
                if placement == nil { return nil }
            }
            guard let source, let balancer, let hypervisor, let metrics else { return nil }
            return .init(
                name: name, policy: source, balancer: balancer, hypervisor: hypervisor, metrics: metrics,
                parent: parent,
                location: location(keyMark), policyLocation: location(policyMark),
                parentLocation: f["parent"].map { location($0.mark) }, placement: placement)
        }

        /// A policy file the config names: read, validated, and checked to be for this pool.
        mutating func readPolicyFile(_ text: String, pool: String, at mark: Mark?) -> PolicyDocument? {
            let path = resolve(text)
            let source: String
            switch readText(path) {
            case .success(let value): source = value
            case .failure(let problem):
                reader.error(
                    at: mark, "pools.\(pool).policy: \(path): \(problem.message)",
                    hint: "a policy file (relative to this config), or 'stored' for the store's current version")
                return nil
            }
            do {
                let document = try PolicyDocument(source: source, file: path)
                guard document.policy.pool == pool else {
                    reader.error(
                        at: mark, "pools.\(pool).policy: \(path) is the policy of pool '\(document.policy.pool)'",
                        hint: "name the pool '\(document.policy.pool)' here, or point at \(pool)'s policy")
                    return nil
                }
                return document
            } catch {
                // Located in the policy file itself, where the fix is; one line here says who used it.
                reader.error(at: mark, "pools.\(pool).policy: \(path) is not a valid policy (errors below)")
                extra += error.diagnostics
                return nil
            }
        }

        /// A name that must be a key of another section, with a suggestion for a typo. A name
        /// that is declared but has errors of its own was reported there, and is not reported again.
        mutating func reference(
            _ f: YAMLReader.Fields, _ key: String, valid: Set<String>, declared: Set<String>, section: String
        ) -> String? {
            guard let name = reader.string(f, key) else { return nil }
            guard valid.contains(name) else {
                if declared.contains(name) { return nil }
                let known = declared.sorted()
                let hint =
                    suggestion(for: name, among: known).map { "did you mean '\($0)'?" }
                    ?? (known.isEmpty
                        ? "define it under \(section):" : "\(section) defined: \(known.joined(separator: ", "))")
                reader.error(at: f[key]?.mark, "\(f.path).\(key): no \(section.dropLast()) named '\(name)'", hint: hint)
                return nil
            }
            return name
        }

        /// A mapping of name → section, in file order; a missing section is an empty one.
        mutating func readNamed<T>(
            _ node: Node?, section: String, _ read: (inout Reading, Node, String) -> T?
        ) -> [String: T] {
            guard let node else { return [:] }
            var result: [String: T] = [:]
            for (name, _, value) in namedEntries(node, section: section) {
                if let item = read(&self, value, name) { result[name] = item }
            }
            return result
        }

        /// The names a section declares, valid or not.
        func declaredNames(_ node: Node?) -> Set<String> {
            Set(node?.mapping?.keys.compactMap { $0.scalar?.string } ?? [])
        }

        mutating func namedEntries(_ node: Node, section: String) -> [(String, Node, Node)] {
            guard let mapping = node.mapping else {
                reader.error(at: node.mark, "\(section) must be a mapping of names to settings")
                return []
            }
            var entries: [(String, Node, Node)] = []
            for (key, value) in mapping {
                guard let name = key.scalar?.string, !name.isEmpty else {
                    reader.error(at: key.mark, "names in \(section) must be plain words")
                    continue
                }
                entries.append((name, key, value))
            }
            return entries
        }
    }
}
