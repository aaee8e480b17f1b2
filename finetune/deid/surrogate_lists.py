"""Names and places that surrogates are drawn from: common US given and family names (with some
from other languages), generic street names, the US states and a few cities with their ZIP prefixes.

All generic or invented, never from records. `synthetic` writes its notes with the same lists.
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = tuple(
    """James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard
    Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty
    Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua
    Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa Timothy Deborah Ronald
    Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy
    Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott Nicole
    Brandon Helen Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra Frank Rachel
    Patrick Carolyn Raymond Janet Jack Maria Dennis Olivia Jerry Heather Tyler Diane Aaron Julie
    Jose Joyce Adam Victoria Nathan Ruth Henry Virginia Douglas Lauren Zachary Kelly Peter Christina
    Kyle Joan Noah Evelyn Ethan Judith Jeremy Andrea Walter Hannah Christian Megan Keith Cheryl
    Roger Jacqueline Terry Martha Austin Madison Sean Teresa Gerald Gloria Carl Sara Harold Janice
    Dylan Ann Arthur Kathryn Lawrence Abigail Jordan Sophia Jesse Frances Bryan Jean Billy Alice
    Bruce Judy Gabriel Isabella Joe Julia Logan Grace Alan Amber Juan Denise Albert Danielle Willie
    Marilyn Elijah Beverly Wayne Charlotte Randy Natalie Vincent Theresa Mason Diana Roy Brittany
    Ralph Doris Bobby Kayla Russell Alexis Bradley Lori Philip Marie Eugene Wei Mei Raj Priya Luis
    Carmen Ahmed Fatima Hiroshi Yuki Olga Ivan Aisha Omar Lakshmi Chen Min-jun Seo-yeon Kofi Ama""".split()
)

LAST_NAMES: tuple[str, ...] = tuple(
    """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
    Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
    Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill
    Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips
    Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers
    Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson
    Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders
    Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler
    Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton
    Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina
    Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington
    Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter
    Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black
    Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson
    Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce
    Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson
    Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena
    Richards Contreras Willis Carpenter Lawrence Sandoval O'Brien O'Connor McCarthy Nakamura Tanaka
    Singh Kumar Wang Zhang Liu Yamamoto Kowalski Novak Okafor Mensah Haddad Rossi Ferrari Muller
    Schneider Dubois Lefebvre Jansen Johansson Nielsen Petrov Ivanova Cohen Levi Abdullah Hussain""".split()
)

STREET_NAMES: tuple[str, ...] = tuple(
    """Oak Maple Pine Cedar Elm Washington Lake Hill Park Main Church Sunset Highland Willow Birch
    Magnolia Cypress Lincoln Jefferson Madison Franklin Jackson River Meadow Forest Spring Valley
    Ridge Orchard Chestnut Walnut Hickory Dogwood Palmetto Poplar Sycamore Laurel Juniper Aspen
    Bayview Harbor Mill Prospect Union Center Market Broad College University Academy""".split()
)

US_STATES: tuple[tuple[str, str], ...] = (
    ("Alabama", "AL"), ("Alaska", "AK"), ("Arizona", "AZ"), ("Arkansas", "AR"), ("California", "CA"),
    ("Colorado", "CO"), ("Connecticut", "CT"), ("Delaware", "DE"), ("Florida", "FL"), ("Georgia", "GA"),
    ("Hawaii", "HI"), ("Idaho", "ID"), ("Illinois", "IL"), ("Indiana", "IN"), ("Iowa", "IA"),
    ("Kansas", "KS"), ("Kentucky", "KY"), ("Louisiana", "LA"), ("Maine", "ME"), ("Maryland", "MD"),
    ("Massachusetts", "MA"), ("Michigan", "MI"), ("Minnesota", "MN"), ("Mississippi", "MS"),
    ("Missouri", "MO"), ("Montana", "MT"), ("Nebraska", "NE"), ("Nevada", "NV"),
    ("New Hampshire", "NH"), ("New Jersey", "NJ"), ("New Mexico", "NM"), ("New York", "NY"),
    ("North Carolina", "NC"), ("North Dakota", "ND"), ("Ohio", "OH"), ("Oklahoma", "OK"),
    ("Oregon", "OR"), ("Pennsylvania", "PA"), ("Rhode Island", "RI"), ("South Carolina", "SC"),
    ("South Dakota", "SD"), ("Tennessee", "TN"), ("Texas", "TX"), ("Utah", "UT"), ("Vermont", "VT"),
    ("Virginia", "VA"), ("Washington", "WA"), ("West Virginia", "WV"), ("Wisconsin", "WI"),
    ("Wyoming", "WY"),
)

# (city, state abbreviation, first three ZIP digits); Florida-heavy like a UF Health corpus.
CITIES: tuple[tuple[str, str, str], ...] = (
    ("Gainesville", "FL", "326"), ("Jacksonville", "FL", "322"), ("Ocala", "FL", "344"),
    ("Tallahassee", "FL", "323"), ("Orlando", "FL", "328"), ("Tampa", "FL", "336"),
    ("Lake City", "FL", "320"), ("Palatka", "FL", "321"), ("Starke", "FL", "320"),
    ("Alachua", "FL", "326"), ("Newberry", "FL", "326"), ("Micanopy", "FL", "326"),
    ("Valdosta", "GA", "316"), ("Savannah", "GA", "314"), ("Atlanta", "GA", "303"),
    ("Springfield", "IL", "627"), ("Columbus", "OH", "432"), ("Austin", "TX", "787"),
    ("Portland", "OR", "972"), ("Madison", "WI", "537"), ("Albany", "NY", "122"),
    ("Raleigh", "NC", "276"), ("Birmingham", "AL", "352"), ("Mobile", "AL", "366"),
)
