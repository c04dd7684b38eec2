//! The command line as a pipeline's first stage: a reader that goes away (`orgwatch findings |
//! head`) ends orgwatch quietly, as it ends other command-line tools.

use std::io::Read;
use std::process::{Command, Stdio};

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly_without_a_panic() {
    let binary = orgwatch_tests::orgwatch_binary();
    let mut child = Command::new(&binary).args(["controls", "--format", "json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("orgwatch runs");
    // The read end closes before orgwatch writes its answer.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr is read");
    let status = child.wait().expect("orgwatch exits");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(0), "{stderr}");

    // With a reader, the whole answer arrives.
    let output = Command::new(&binary).args(["controls", "--format", "json"]).output().expect("orgwatch runs");
    let controls: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(controls.as_array().map(Vec::len), Some(15));
}
