import ArgumentParser

/// `flockctl policy …`: policies are versioned in the store, one YAML file per pool.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Validate, apply, inspect and roll back scaling policies.",
        subcommands: [Validate.self, Apply.self, List.self, Show.self, History.self, Diff.self, Rollback.self]
    )
}
