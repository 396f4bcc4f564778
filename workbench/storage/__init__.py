"""SQLite store and files on disk: experiments, runs, the prompt library, imports and exports."""
