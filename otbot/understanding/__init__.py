"""Understanding a message: text analysis, emergencies, small talk and the matcher's decision."""
