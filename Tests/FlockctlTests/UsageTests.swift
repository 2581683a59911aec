import FlockTestSupport
import Foundation
import Testing

@Suite("flockctl usage")
struct UsageTests {
    @Test("an unknown subcommand is a usage error")
    func unknownSubcommand() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run(["frobnicate"])
        expectUsageError(result, command: "flockctl")
    }

    @Test("an unknown policy subcommand is a usage error with the policy hint")
    func unknownPolicySubcommand() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run(["policy", "frobnicate"])
        expectUsageError(result, command: "flockctl policy")
    }

    @Test(
        "missing arguments and unknown options are usage errors",
        arguments: [
            (["policy", "validate"], "flockctl policy validate"),
            (["policy", "apply"], "flockctl policy apply"),
            (["policy", "show"], "flockctl policy show"),
            (["policy", "rollback", "web"], "flockctl policy rollback"),
            (["policy", "diff", "web", "--from", "1"], "flockctl policy diff"),
            (["policy", "show", "web", "--version", "two"], "flockctl policy show"),
            (["policy", "list", "--bogus"], "flockctl policy list"),
        ])
    func policyUsageErrors(_ arguments: [String], _ command: String) async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run(arguments)
        expectUsageError(result, command: command)
        #expect(!FileManager.default.fileExists(atPath: sandbox.fallbackDB), "a usage error must not open the store")
    }

    @Test("demo --guest names the images it knows, and refuses others before starting anything")
    func demoGuest() async throws {
        let sandbox = try Scratch()
        let help = try await sandbox.run(["demo", "--help"])
        #expect(help.status == 0, "\(help)")
        #expect(help.stdout.contains("--guest <guest>"), "\(help)")
        let bad = try await sandbox.run(["demo", "--guest", "ubuntu"])
        expectUsageError(bad, command: "flockctl demo")
        for word in ["ubuntu", "busybox", "debian"] { #expect(bad.stderr.contains(word), "\(bad)") }
    }

    @Test("--help lists both command groups")
    func help() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run(["--help"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("USAGE: flockctl"), "\(result)")
        let subcommands = result.stdoutLines.map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(subcommands.contains { $0.hasPrefix("policy ") }, "\(result)")
        #expect(subcommands.contains { $0.hasPrefix("simulate ") }, "\(result)")
    }

    @Test("policy --help lists every policy subcommand")
    func policyHelp() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run(["policy", "--help"])
        #expect(result.status == 0, "\(result)")
        let words = Set(result.stdoutLines.compactMap { $0.split(separator: " ").first.map(String.init) })
        for sub in ["validate", "apply", "list", "show", "history", "diff", "rollback"] {
            #expect(words.contains(sub), "\(sub) missing\n\(result)")
        }
    }

    @Test("simulate --help documents its options")
    func simulateHelp() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run(["simulate", "--help"])
        #expect(result.status == 0, "\(result)")
        for option in ["--policy", "--metrics", "--start-count", "--clone-latency", "--format"] {
            #expect(result.stdout.contains(option), "\(option)\n\(result)")
        }
    }

    @Test("a bash completion script can be generated")
    func completion() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run(["--generate-completion-script", "bash"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.hasPrefix("#!/bin/bash"), "\(result.stdout.prefix(200))")
        #expect(result.stdout.contains("flockctl"))
        #expect(result.stdout.contains("complete "), "registers with bash's complete builtin")
        #expect(result.stdout.contains("simulate") && result.stdout.contains("rollback"))
    }

    @Test("zsh and fish completion scripts can be generated", arguments: ["zsh", "fish"])
    func otherCompletions(_ shell: String) async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run(["--generate-completion-script", shell])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("flockctl"))
    }
}
