//! The commands understood by a Chooser, and sent by a Carousel's
//! `requestNext`.

/// Move a chooser's selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Choose {
    /// The next item.
    Next,
    /// The previous item.
    Prev,
    /// The first item.
    First,
    /// The last item.
    Last,
    /// The current item again.
    Same,
}

impl Choose {
    /// Parses Kamaelia's command words ("NEXT", "PREV", "FIRST", "LAST",
    /// "SAME"), ignoring case and surrounding space.
    pub fn parse(word: &str) -> Option<Choose> {
        match word.trim().to_ascii_uppercase().as_str() {
            "NEXT" => Some(Choose::Next),
            "PREV" | "PREVIOUS" => Some(Choose::Prev),
            "FIRST" => Some(Choose::First),
            "LAST" => Some(Choose::Last),
            "SAME" => Some(Choose::Same),
            _ => None,
        }
    }
}
