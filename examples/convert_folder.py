"""Turn an image folder (<label>/ or <split>/<label>/) into one FER-2013 CSV and look at it.

    python examples/convert_folder.py path/to/faces faces.csv.gz
"""
import sys

import fercsv

src, dst = sys.argv[1], sys.argv[2]
report = fercsv.folder_to_csv(src, dst, progress=True)   # skips bad files and says which
print(report)
print(fercsv.info(dst))                                    # counts, blanks, duplicates across splits
fercsv.csv_to_folder(dst, "faces_back", overwrite=True)   # and back, losslessly (PNG)
