import FlockCore
import FlockPolicy
import Testing

@Suite struct PolicyDefaultsTests {
    static let minimal = """
        pool: shop
        parent: shop-parent
        balancer: { backend: shop, port: 80 }
        capacity: { min: 2, max: 4 }
        checks:
          - name: load
            metric: sessions_per_server
            target_value: { target: 10 }
        """

    @Test func omittedFieldsTakeTheDocumentedDefaults() throws {
        let policy = try PolicyParser.parse(Self.minimal, file: "shop.yaml")
        #expect(policy.evaluationInterval == Policy.defaultEvaluationInterval)
        #expect(policy.checks[0].window == Check.defaultWindow)
        #expect(policy.checks[0].aggregate == .mean)
        #expect(policy.checks[0].rule == .targetValue(.init(target: 10, tolerance: 0.1)))
        #expect(policy.scaleOut == Policy.ScaleOut())
        #expect(policy.scaleIn == Policy.ScaleIn())
        #expect(policy.cloneMode == .lazy)
        #expect(policy.dryRun == false)
    }

    @Test func percentActionsAndDryRunParse() throws {
        let text =
            Self.minimal.replacingOccurrences(
                of: "target_value: { target: 10 }", with: "threshold: { above: 5, for: 500ms, add_percent: 25 }"
            ) + "\ndry_run: true\n"
        let policy = try PolicyParser.parse(text, file: "shop.yaml")
        #expect(
            policy.checks[0].rule
                == .threshold(.init(bound: .above(5), sustain: .milliseconds(500), action: .addPercent(25))))
        #expect(policy.dryRun)
    }

    @Test func serverOptionsParse() throws {
        let text = Self.minimal.replacingOccurrences(
            of: "balancer: { backend: shop, port: 80 }",
            with:
                "balancer:\n  backend: shop\n  port: 80\n  server: { inter: 500ms, rise: 1, fall: 2, maxconn: 64, slowstart: 10s, weight: 50 }"
        )
        let policy = try PolicyParser.parse(text, file: "shop.yaml")
        #expect(
            policy.balancer.server
                == ServerOptions(
                    interval: .milliseconds(500), rise: 1, fall: 2, maxConnections: 64, slowStart: .seconds(10),
                    weight: 50))
        #expect(try PolicyParser.parse(Self.minimal, file: "shop.yaml").balancer.server == ServerOptions())
    }

    @Test func checksumFollowsTheExactText() throws {
        let a = try PolicyDocument(source: Self.minimal, file: "a.yaml")
        let b = try PolicyDocument(source: Self.minimal, file: "b.yaml")
        let c = try PolicyDocument(source: Self.minimal + "\n# a comment\n", file: "c.yaml")
        #expect(a.checksum == b.checksum)
        #expect(a.checksum != c.checksum)
        #expect(a.checksum.count == 64)
    }
}
