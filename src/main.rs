fn main() {
    std::process::exit(skillet::cli::main());
}
