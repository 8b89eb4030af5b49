//! The command line: parse, resolve, dispatch. All work happens in the library.

use clap::Parser;
use oci_conformance::config::{exit, Cli, Command, Config, ProcessEnv};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::BAD_CONFIG
            } else {
                exit::OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(exit::INTERNAL);
        }
    };
    let code = rt.block_on(async move {
        match cli.command {
            Some(Command::Serve(a)) => oci_conformance::cli::serve(a).await,
            Some(Command::List(a)) => oci_conformance::cli::list(a),
            Some(Command::Expect(a)) => oci_conformance::cli::expect(a),
            Some(Command::Diff(a)) => oci_conformance::cli::diff(a),
            Some(Command::Bundle(a)) => oci_conformance::cli::bundle(a),
            Some(Command::Completions(a)) => oci_conformance::cli::completions(a),
            Some(Command::Man) => oci_conformance::cli::man(),
            Some(Command::Bench(b)) => oci_conformance::bench::run(b).await,
            None => {
                let cmd = std::env::args().collect::<Vec<_>>().join(" ");
                match Config::resolve(&cli.run, &ProcessEnv, cmd) {
                    Ok(cfg) => oci_conformance::cli::run(cfg).await,
                    Err(e) => {
                        eprintln!("error: {e}");
                        exit::BAD_CONFIG
                    }
                }
            }
        }
    });
    std::process::exit(code);
}
