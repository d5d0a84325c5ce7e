//! White-box tests of the state machine, one section per state.
