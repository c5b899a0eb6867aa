"""The paper-trading daemon: feeds → engine → risk → broker, with a journal and a status face."""
