"""Product labels and wall plates: signed QR payloads, layout, and PNG/SVG/PDF output.

``codec`` signs and verifies the label payload and needs only ``cryptography``; import it
alone where nothing is drawn. ``model`` holds what a label or plate says, ``render`` draws
it (``layout``, ``label``, ``plate`` and ``fonts`` are its parts).
"""
