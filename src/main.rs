fn main() -> std::process::ExitCode {
    moxide::cli::main()
}
